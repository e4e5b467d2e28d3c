"""Signed checkpoints of the audit chains' heads, anchored outside the database.

The hash chains (engine/audit/chain.py) show an entry edited, inserted or removed, but whoever can
write the database can also rewrite a chain consistently (recompute every later hash and fix
the denial's head) or delete a denial with its entries. A checkpoint signs, with an HMAC-SHA256
key kept out of the database (``DENIALFLOW_AUDIT_KEY_FILE`` or ``DENIALFLOW_AUDIT_KEY``), the
(seq, head) of each denial whose chain grew since the previous checkpoint, and carries that
checkpoint's signature, so the checkpoints are a chain of their own. A checkpoint is written to
``audit_checkpoints`` together with an outbox row: the relay publishes it to the checkpoints
topic (one partition, kept forever) in commit order, and it is sent even if the broker is down
when it is made. `denialflow audit verify --checkpoints` checks the signatures and the chain,
folds the deltas into the last signed head per denial and proves each in the database.

Window of exposure: a change is signed only by the next checkpoint. The timer service makes one
on its next tick after a denial closes, else every ``checkpoint_every_s`` when anything changed;
the relay publishes it a moment later. Until then a careful rewrite of the newest entries goes
unseen (the plain chain check still sees a careless one). The worker does no signing.

Which entries are new: ids above the last checkpoint's ``to_entry_id``. PostgreSQL does not
commit ids in order, so a checkpoint first holds a SHARE lock on ``denials`` for an instant:
every batch writes its denials before its audit entries, in one transaction, so once the lock
is granted no open transaction holds an entry id below the highest one visible.
"""

import hashlib
import hmac
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog
from kafka import TopicPartition
from sqlalchemy import Connection, Engine, case, func, insert, select, text, tuple_
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.audit.chain import Break, verify
from engine.config import Settings
from engine.runtime.kafka import make_consumer
from engine.runtime.messages import Message
from engine.storage import store
from engine.storage.models import AuditCheckpoint, AuditEntry, Denial

log = structlog.get_logger("denialflow.checkpoints")
CHECKPOINTS, A, D = AuditCheckpoint.__table__, AuditEntry.__table__, Denial.__table__
#: Entries one checkpoint covers at most: its delta (<= 4,000 denials of <= ~160 bytes) stays
#: well under the producer's 1 MiB request limit; more changes make consecutive checkpoints.
MAX_ENTRIES = 4000
MIN_KEY_BYTES = 16
KEY_SETTINGS = "DENIALFLOW_AUDIT_KEY_FILE (a file kept outside the database) or DENIALFLOW_AUDIT_KEY"
MESSAGE_KEY = b"audit-checkpoints"  # one key: the relay sends every checkpoint to the same partition
_LOCK_NOT_AVAILABLE = "55P03"


class CheckpointError(ValueError):
    """Checkpoints cannot be made or read (no usable key, no topic): one line naming the setting."""


@dataclass(frozen=True)
class AuditKey:
    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        """Names the key in each checkpoint without revealing it."""
        return hashlib.sha256(self.secret).hexdigest()[:16]

    def sign(self, record: Mapping[str, Any]) -> str:
        return hmac.new(self.secret, canonical(record), hashlib.sha256).hexdigest()


def canonical(record: Mapping[str, Any]) -> bytes:
    """What the HMAC covers: every field but ``sig``, as JSON with sorted keys and no whitespace."""
    return orjson.dumps({k: v for k, v in record.items() if k != "sig"}, option=orjson.OPT_SORT_KEYS)


def load_key(settings: Settings) -> AuditKey | None:
    """The key file if set, else the inline key, else None (checkpointing is off)."""
    if settings.audit_key_file is not None:
        try:
            secret = settings.audit_key_file.read_bytes().strip()
        except OSError as exc:
            raise CheckpointError(f"DENIALFLOW_AUDIT_KEY_FILE {settings.audit_key_file}: {exc.strerror}") from None
    elif settings.audit_key is not None:
        secret = settings.audit_key.get_secret_value().strip().encode()
    else:
        return None
    if len(secret) < MIN_KEY_BYTES:
        raise CheckpointError(f"the audit key ({KEY_SETTINGS}) is shorter than {MIN_KEY_BYTES} bytes")
    return AuditKey(secret)


def require_key(settings: Settings) -> AuditKey:
    key = load_key(settings)
    if key is None:
        raise CheckpointError(f"no audit key: set {KEY_SETTINGS}")
    return key


# --- making checkpoints -------------------------------------------------------------------------


def _settled_max(engine: Engine) -> int | None:
    """The highest audit entry id below which every entry is committed (None: the lock timed out)."""
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL lock_timeout = '2s'"))
                conn.execute(text("LOCK TABLE denials IN SHARE MODE"))  # waits for the batches in flight
            return conn.scalar(select(func.max(A.c.id))) or 0
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        log.warning("audit.checkpoint_postponed", why="a long transaction holds the denials table")
        return None


def _last(conn: Connection) -> dict[str, Any] | None:
    record = conn.scalar(select(CHECKPOINTS.c.record).order_by(CHECKPOINTS.c.seq.desc()).limit(1))
    return None if record is None else orjson.loads(record)


def _chunk_end(conn: Connection, lo: int, settled: int) -> int:
    bound = conn.scalar(
        select(A.c.id).where(A.c.id > lo, A.c.id <= settled).order_by(A.c.id).offset(MAX_ENTRIES - 1).limit(1)
    )
    return settled if bound is None else bound


def _delta(conn: Connection, lo: int, hi: int) -> tuple[list[list[Any]], int, int]:
    """Each denial's head among the entries with ids in (lo, hi]; the entries there; the denials new there."""
    window = (A.c.id > lo, A.c.id <= hi)
    newest = select(func.max(A.c.id)).where(*window).group_by(A.c.denial_id)
    heads = conn.execute(select(A.c.denial_id, A.c.seq, A.c.hash).where(A.c.id.in_(newest)).order_by(A.c.denial_id))
    entries, new = conn.execute(select(func.count(), func.sum(case((A.c.seq == 1, 1), else_=0))).where(*window)).one()
    return [[r.denial_id, r.seq, r.hash] for r in heads], entries, new or 0


def _next_record(
    conn: Connection, key: AuditKey, settled: int, reason: str, even_if_empty: bool
) -> dict[str, Any] | None:
    prev = _last(conn)
    lo = prev["to_entry_id"] if prev else 0
    if settled <= lo and not even_if_empty:
        return None
    hi = _chunk_end(conn, lo, settled)
    delta, entries, new = _delta(conn, lo, hi)
    record = {
        "seq": prev["seq"] + 1 if prev else 1,
        "prev_sig": prev["sig"] if prev else None,
        "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "reason": reason,
        "key_id": key.key_id,
        "from_entry_id": lo,
        "to_entry_id": hi,
        "entries": entries,
        "denials": len(delta),
        "total_entries": (prev["total_entries"] if prev else 0) + entries,
        "total_denials": (prev["total_denials"] if prev else 0) + new,
        "delta": delta,
    }
    return {**record, "sig": key.sign(record)}


def _save(conn: Connection, record: dict[str, Any], topic: str) -> None:
    """The row and its outbox message in one transaction: published once committed, in commit order."""
    body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    created_at = datetime.fromisoformat(record["created_at"])
    conn.execute(
        insert(CHECKPOINTS).values(
            seq=record["seq"], created_at=created_at, reason=record["reason"], key_id=record["key_id"],
            to_entry_id=record["to_entry_id"], denials=record["denials"], entries=record["entries"],
            sig=record["sig"], record=body,
        )
    )  # fmt: skip
    store.write_batch(conn, store.BatchWrite(outbox=[Message(topic, MESSAGE_KEY, body)]), created_at)


@dataclass
class Checkpointer:
    """Makes checkpoints; without a key it does nothing (checkpointing is off)."""

    engine: Engine
    key: AuditKey | None
    topic: str
    every_s: float = 60.0
    _last_made: float = field(default=-math.inf, init=False)
    _scanned_to: int = field(default=0, init=False)

    def maybe_checkpoint(self) -> int:
        """The timer service's tick: checkpoint now if a denial closed since the last checkpoint,
        or if anything changed and ``every_s`` has passed; return how many checkpoints were made."""
        if self.key is None:
            return 0
        with self.engine.connect() as conn:
            signed_to = conn.scalar(select(func.max(CHECKPOINTS.c.to_entry_id))) or 0
            newest = conn.scalar(select(func.max(A.c.id))) or 0
            if newest <= signed_to:
                return 0
            closed = conn.scalar(  # only the entries not looked at on an earlier tick
                select(A.c.id).where(A.c.id > max(signed_to, self._scanned_to), A.c.id <= newest,
                                     A.c.to_state == "closed").limit(1)
            )  # fmt: skip
        if closed is None:
            self._scanned_to = newest
            if time.monotonic() - self._last_made < self.every_s:
                return 0
        made = self.checkpoint("close" if closed is not None else "interval")
        if made:
            self._scanned_to = newest
        return len(made)

    def checkpoint(self, reason: str, even_if_empty: bool = False) -> list[dict[str, Any]]:
        """Sign every entry committed since the last checkpoint (in several checkpoints past
        MAX_ENTRIES); [] when nothing changed, the lock timed out or another checkpointer won."""
        if self.key is None:
            raise CheckpointError(f"no audit key: set {KEY_SETTINGS}")
        settled = _settled_max(self.engine)
        made: list[dict[str, Any]] = []
        while settled is not None:
            try:
                with self.engine.begin() as conn:
                    record = _next_record(conn, self.key, settled, reason, even_if_empty and not made)
                    if record is None:
                        break
                    _save(conn, record, self.topic)
            except IntegrityError:  # the same seq, committed by another timer service meanwhile
                log.info("audit.checkpoint_raced")
                break
            made.append(record)
            log.info("audit.checkpoint", seq=record["seq"], denials=record["denials"], entries=record["entries"])
            if record["to_entry_id"] >= settled:
                break
        if made:
            self._last_made = time.monotonic()
        return made


def build_checkpointer(settings: Settings, engine: Engine) -> Checkpointer:
    key = load_key(settings)
    if key is None:
        log.warning("audit.checkpoints_off", why=f"no audit key: set {KEY_SETTINGS}")
    return Checkpointer(engine, key, settings.checkpoints_topic, settings.checkpoint_every_s)


def export(conn: Connection, path: Path) -> int:
    """Every checkpoint, oldest first, one JSON record a line; return how many."""
    rows = conn.execute(select(CHECKPOINTS.c.record).order_by(CHECKPOINTS.c.seq).execution_options(yield_per=100))
    count = 0
    with path.open("wb") as out:
        for (record,) in rows:
            out.write(record + b"\n")
            count += 1
    return count


# --- verifying against them ----------------------------------------------------------------------


def read_file(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def read_topic(settings: Settings, timeout_s: float = 60.0) -> list[bytes]:
    """Every record on the checkpoints topic, read to its end (assigned partitions, no group)."""
    consumer = make_consumer(settings, group_id=None)
    try:
        partitions = consumer.partitions_for_topic(settings.checkpoints_topic)
        if not partitions:
            raise CheckpointError(f"no topic {settings.checkpoints_topic} (DENIALFLOW_CHECKPOINTS_TOPIC) on the broker")
        assigned = [TopicPartition(settings.checkpoints_topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        ends = consumer.end_offsets(assigned)
        found: dict[TopicPartition, list[bytes]] = {tp: [] for tp in assigned}
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in assigned):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the checkpoints topic was not read to its end within {timeout_s:.0f} s")
            for tp, records in consumer.poll(timeout_ms=500).items():
                found[tp] += [r.value for r in records]
        return [value for tp in assigned for value in found[tp]]
    finally:
        consumer.close()


@dataclass(frozen=True, slots=True)
class Finding:
    problem: str
    denial_id: str | None = None

    def __str__(self) -> str:
        return self.problem if self.denial_id is None else f"denial {self.denial_id}: {self.problem}"


@dataclass
class Signed:
    """The authentic checkpoints folded: the last signed (seq, head) per denial."""

    heads: dict[str, tuple[int, str]]
    checkpoints: int
    findings: list[Finding]


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    fields = ("seq", "prev_sig", "key_id", "sig", "delta", "total_entries", "total_denials")
    return record if isinstance(record, dict) and all(f in record for f in fields) else None


def _authentic(lines: Iterable[bytes], key: AuditKey) -> tuple[dict[int, dict[str, Any]], list[Finding]]:
    """The checkpoints whose HMAC holds, by seq, and what is wrong with the others and with the chain."""
    found: dict[int, dict[str, Any]] = {}
    findings: list[Finding] = []
    prev: dict[str, Any] | None = None
    for n, line in enumerate(lines, 1):
        record = _parse(line)
        if record is None:
            findings.append(Finding(f"checkpoint record {n} is not a checkpoint"))
            continue
        seq = record["seq"]
        if record["key_id"] != key.key_id:
            findings.append(Finding(f"checkpoint {seq} is signed with key {record['key_id']}, not {key.key_id}"))
            continue
        if not hmac.compare_digest(key.sign(record), str(record["sig"])):
            findings.append(Finding(f"checkpoint {seq}: the signature does not match (forged or altered)"))
            continue
        if seq in found:
            if found[seq]["sig"] != record["sig"]:
                findings.append(Finding(f"two different checkpoints {seq}: the checkpoint chain forked"))
            continue  # an identical repeat is the relay's at-least-once delivery
        if (seq, record["prev_sig"]) != ((prev["seq"] + 1, prev["sig"]) if prev else (1, None)):
            after = f"checkpoint {prev['seq']}" if prev else "the start"
            findings.append(
                Finding(f"checkpoint {seq} does not follow {after}: checkpoints removed, reordered or forged")
            )
        found[seq] = prev = record
    return found, findings


def fold(lines: Iterable[bytes], key: AuditKey) -> Signed:
    """Check each checkpoint's HMAC and the chain of previous signatures; fold the authentic
    ones, in seq order, into the last signed head per denial."""
    found, findings = _authentic(lines, key)
    heads: dict[str, tuple[int, str]] = {}
    for seq in sorted(found):
        heads.update((denial_id, (s, head)) for denial_id, s, head in found[seq]["delta"])
    if found and not findings:
        last = found[max(found)]
        if (len(heads), sum(s for s, _ in heads.values())) != (last["total_denials"], last["total_entries"]):
            findings.append(Finding("the checkpoints' deltas do not add up to their totals"))
    return Signed(heads, len(found), findings)


def prove(conn: Connection, heads: Mapping[str, tuple[int, str]]) -> Iterator[Finding]:
    """Each signed denial exists and the entry at its signed seq has the signed hash (that its
    chain holds from seq 1 up to there is the ordinary chain check's part)."""
    ids = sorted(heads)
    for chunk in (ids[i : i + 1000] for i in range(0, len(ids), 1000)):
        present = set(conn.scalars(select(D.c.id).where(D.c.id.in_(chunk))))
        pairs = [(d, heads[d][0]) for d in chunk]
        query = select(A.c.denial_id, A.c.hash).where(tuple_(A.c.denial_id, A.c.seq).in_(pairs))
        stored = {row.denial_id: row.hash for row in conn.execute(query)}
        for denial_id in chunk:
            seq, head = heads[denial_id]
            if denial_id not in present:
                gone = "the denial is gone" + ("" if denial_id in stored else " with its audit entries")
                yield Finding(f"signed at seq {seq}, but {gone}", denial_id)
            elif denial_id not in stored:
                yield Finding(f"signed at seq {seq}, but its chain has no entry {seq} (entries removed)", denial_id)
            elif stored[denial_id] != head:
                yield Finding(f"entry {seq} is not the one signed: the chain was rewritten before the checkpoint",
                              denial_id)  # fmt: skip


@dataclass
class Verdict:
    checkpoints: int
    signed_denials: int
    entries_checked: int
    chain_break: Break | None
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return self.chain_break is None and not self.findings


def verify_with_checkpoints(conn: Connection, lines: Iterable[bytes], key: AuditKey) -> Verdict:
    """The ordinary chain check, plus everything the checkpoints prove about the database."""
    signed = fold(lines, key)
    checked, broken = verify(conn)
    findings = signed.findings + list(prove(conn, signed.heads))
    return Verdict(signed.checkpoints, len(signed.heads), checked, broken, findings)
