"""Turn one polled batch of Kafka records into one database write.

Per record: decode, skip if its event id was already processed, apply it to the
denial as it stands after the records before it, and collect the audit entries,
change-feed messages, dead letters and the processed-event record. Nothing here
talks to Kafka; the worker decides when the write commits and offsets move.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection

from engine.audit.chain import entry_hash
from engine.clock import Clock
from engine.errors import Rejected
from engine.intake.events import SCHEMA_VERSION, WITHOUT_DENIAL
from engine.intake.records import Inbound, body_digest, dead_letter, decode_record, internal_error, reserved_id
from engine.runtime.denial_timer import is_current, mark_fired, rearm
from engine.runtime.messages import Message
from engine.runtime.prevention import NO_CHANGE, PreventionBatch
from engine.storage import store
from engine.storage.models import transition_id
from workflows.apply import SETTLED, Context, Policy, Step, apply_event, cents
from workflows.denial import State
from workflows.escalation import desired_timers

log = structlog.get_logger("denialflow.processor")


@dataclass(frozen=True, slots=True)
class Topics:
    transitions: str
    dlq: str
    events: str = "denials.events"  # where the worker's own follow-up events go (authorization rechecks)
    authorizations: str = "authorizations.changes"
    claims_checked: str = "claims.checked"


@dataclass
class BatchResult:
    now: datetime
    write: store.BatchWrite = field(default_factory=store.BatchWrite)
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    transitions: int = 0
    rejected_by_code: dict[str, int] = field(default_factory=dict)
    #: the denials the batch inserted or changed, as they stand after it (what a batch worked
    #: while this one's write is in flight reads in their place: `Processor.process_ahead`)
    denials: dict[str, SimpleNamespace] = field(default_factory=dict)
    #: the open-work count of each owner the batch moved, as it left it: laid over what a batch
    #: worked ahead reads as counts, not changes, so a read after this write committed is right too
    open_work: dict[str, int] = field(default_factory=dict)

    def recorded(self) -> dict[str, tuple[str | None, str]]:
        """The event ids the batch records in `processed_events`, with digest and outcome."""
        return {r["event_id"]: (r["digest"], r["outcome"]) for r in (*self.write.processed, *self.write.reclaimed)}

    def merged(self, later: "BatchResult") -> "BatchResult":
        """This result and a later one's as one batch's (the worker's record-by-record commit):
        the counts, and the audit entries `fired_rules` reads; both writes are committed already."""
        self.write.audit.extend(later.write.audit)
        self.applied += later.applied
        self.duplicates += later.duplicates
        self.rejected += later.rejected
        self.transitions += later.transitions
        for code, n in later.rejected_by_code.items():
            self.rejected_by_code[code] = self.rejected_by_code.get(code, 0) + n
        return self

    def fired_rules(self) -> Counter[str]:
        """What the batch's timer events did, by rule (each is one escalation or flag)."""
        return Counter(e["reason"] for e in self.write.audit if e["event_type"] == "denial.timer_fired")


_FEED_ENTRY = ("denial_id", "seq", "event_id", "event_type", "trigger", "from_state", "to_state",
               "actor", "role", "occurred_at", "recorded_at", "reason", "hash")  # fmt: skip
_WITH_FIGURES = frozenset({"escalate", "flag", "extend_deadline"})
_FEED_DENIAL = ("state", "category", "team", "owner", "touches", "priority", "payer_id", "denied_cents")


def _feed_message(denial: SimpleNamespace, entry: dict[str, Any]) -> bytes:
    """The change-feed record: the transition and the denial's standing after it, no PHI."""
    doc = {k: entry[k] for k in _FEED_ENTRY}
    doc["transition_id"] = transition_id(entry["denial_id"], entry["seq"])
    doc["schema_version"] = SCHEMA_VERSION
    doc["denial"] = {k: getattr(denial, k) for k in _FEED_DENIAL}
    if entry["trigger"] in _WITH_FIGURES:  # the rule is the reason; the figures behind it travel too
        doc["figures"] = entry["payload"].get("detail", entry["payload"])
    return orjson.dumps(doc)


#: What `Processor._apply` records for an event it accepted; anything else is a rejection code.
#: A refused event reserves nothing: another body under its id is worked as new.
ACCEPTED = frozenset({"applied", "timer.stale", "review.reversal_unmatched", "no_denial", NO_CHANGE})


class _Sequential(Exception):
    """A batch with an event outside the denials (prevention) is not worked ahead: its reads
    (authorizations, claim checks) are not among what a batch in flight is overlaid with."""


class _Poisoned(Exception):
    """A record that raised something other than a rejection while being applied: the batch
    is worked again without it, from the start, since its steps may be half collected."""

    def __init__(self, key: str, cause: Exception) -> None:
        super().__init__(key)
        self.key, self.cause = key, cause


def _denial_ids(event: Any) -> list[str]:
    """The denials an event touches: its own, or for a reversal each line of the claim."""
    if event.type in WITHOUT_DENIAL:
        return []
    if event.type == "denial.reversed":
        return event.data.denial_ids()
    return [event.denial_id]


def _open_owner(denial: SimpleNamespace | None) -> str | None:
    if denial is None or not denial.owner or denial.state == State.CLOSED:
        return None
    return denial.owner


def _track_open_work(
    context: Context, write: store.BatchWrite, before: SimpleNamespace | None, after: SimpleNamespace
) -> None:
    """Keep each owner's open-work count right through the batch: routing reads it."""
    old, new = _open_owner(before), _open_owner(after)
    if old == new:
        return
    for owner, change in ((old, -1), (new, 1)):
        if owner is not None:
            context.open_work[owner] = context.open_work.get(owner, 0) + change
            write.workload[owner] = write.workload.get(owner, 0) + change


def _review(write: store.BatchWrite, kind: str, event: Any, now: datetime) -> None:
    """Keep what a person must look at: a reversal that matches no denial (usually of a paid
    claim), a claim line two claims of one file resolved to, money after a denial settled."""
    data = event.data.model_dump(mode="json", exclude={"patient"})
    write.reviews.append({
        "kind": kind, "event_id": event.event_id, "payer_id": data["payer_id"],
        "claim_control_number": data["claim_control_number"], "detail": data, "created_at": now,
    })  # fmt: skip
    log.info("review.created", kind=kind, event_id=event.event_id, payer_id=data["payer_id"])


def _review_kind(event: Any, before: SimpleNamespace | None) -> str | None:
    """Whether a remittance line that passed its guards also needs a person's eye."""
    if event.type not in ("denial.received", "denial.paid"):
        return None
    if before is None and event.data.collides_with:
        return "identity_collision"
    if before is not None and before.state in SETTLED:
        return "remittance_after_settled"
    return None


def _outcome_event(denial: SimpleNamespace, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The `outcome_events` row for a payer's answer to an appeal or a write-off, else None."""
    trigger = entry["trigger"]
    if trigger == "write_off":
        kind = "written_off"
    elif trigger in ("resolve", "settle", "uphold") and entry["from_state"] == "appealed":
        kind = "upheld" if trigger == "uphold" else "overturned"
    else:
        return None
    amount = entry["payload"].get("amount") if kind == "written_off" else None
    return {"denial_id": denial.id, "seq": entry["seq"], "occurred_at": entry["occurred_at"], "kind": kind,
            "adjustment_type": entry["payload"].get("adjustment_type") if kind == "written_off" else None,
            "amount_cents": cents(Decimal(amount)) if amount is not None else None, "payer_id": denial.payer_id,
            "team": denial.team, "category": denial.category, "site": denial.site}  # fmt: skip


class Processor:
    def __init__(self, policy: Policy, topics: Topics, clock: Clock) -> None:
        self.policy = policy
        self.topics = topics
        self.clock = clock
        self._moved: dict[str, str] = {}  # this batch's claim-line ids of such denials -> their stored ids
        # this batch's ids already in processed_events -> their digest and outcome
        self._stored: dict[str, tuple[str | None, str]] = {}
        self._rows: dict[str, dict[str, Any]] = {}  # this batch's processed rows by id

    def process(self, conn: Connection, messages: list[Inbound], unwritable: Exception | None = None) -> BatchResult:
        """The batch's result; a record that fails in a way no rule foresaw is rejected as
        `engine.internal_error` and the batch worked again without it (nothing is written yet).
        ``unwritable``: what the store refused when this (single) record was written; it is
        rejected for that, unless it was processed before."""
        return self._work(conn, messages, unwritable, None, ahead=False)

    def process_ahead(self, conn: Connection, messages: list[Inbound], after: BatchResult | None) -> BatchResult | None:
        """The batch's result, worked while ``after``, the batch before it, may still be being
        written (the pipelined worker): the store is read with ``after`` laid over it (the
        denials it changed, the ids it recorded, the open work it left), so the result is the
        one the batch would have once ``after`` committed, whether or not it has by the time
        the store is read (each overlay is what ``after`` left, not what it changed). None for
        a batch holding events outside the denials (prevention), whose reads no overlay covers:
        it goes the sequential way."""
        try:
            return self._work(conn, messages, None, after, ahead=True)
        except _Sequential:
            return None

    def _work(
        self,
        conn: Connection,
        messages: list[Inbound],
        unwritable: Exception | None,
        after: BatchResult | None,
        *,
        ahead: bool,
    ) -> BatchResult:
        poisoned: dict[str, Exception] = {}
        while True:
            try:
                return self._process(conn, messages, poisoned, unwritable, after, ahead)
            except _Poisoned as poison:
                log.error("event.poisoned", key=poison.key, error=type(poison.cause).__name__)
                poisoned[poison.key] = poison.cause

    def _process(
        self,
        conn: Connection,
        messages: list[Inbound],
        poisoned: dict[str, Exception],
        unwritable: Exception | None,
        after: BatchResult | None,
        ahead: bool,
    ) -> BatchResult:
        now = self.clock()
        decoded = [(msg, *decode_record(msg)) for msg in messages]
        valid = [e for _, e, _, _ in decoded if e is not None]
        if ahead and any(e.type in WITHOUT_DENIAL for e in valid):
            raise _Sequential
        # The idempotency key: a valid event's id; for bytes that failed validation, where they
        # sit, so a corrected re-send under the same event id is still applied.
        keys = [e.event_id if e is not None else f"kafka:{m.topic}:{m.partition}:{m.offset}" for m, e, _, _ in decoded]
        digests = [body_digest(m.value) if e is not None else None for m, e, _, _ in decoded]
        done = store.processed_ids(conn, keys)
        if after is not None:
            recorded = after.recorded()
            done.update((k, recorded[k]) for k in keys if k in recorded)
        self._stored, self._rows = dict(done), {}
        ids = {i for e in valid for i in _denial_ids(e)}
        loaded = self._load(conn, ids, after)
        self._moved = store.denial_keys(conn, ids - loaded.keys())
        if self._moved:
            ids |= set(self._moved.values())
            loaded.update(self._load(conn, set(self._moved.values()) - loaded.keys(), after))
        current = dict(loaded)
        receipts = [e.data for e in valid if e.type == "denial.received" and e.data.patient]
        patients = {(d.payer_id, d.patient.member_id) for d in receipts if d.patient.member_id}
        result = BatchResult(now)
        open_work = store.open_work(conn)
        if after is not None:
            open_work.update(after.open_work)
        context = Context({}, open_work)
        self._prevention = PreventionBatch(
            conn, valid, patients, self.policy.auth_rules, self.topics, result.write, context.authorizations
        )
        for (msg, event, error, event_id), key, digest in zip(decoded, keys, digests, strict=True):
            if key in done:
                seen, outcome = done[key]
                if event is None or seen is None or seen == digest:
                    result.duplicates += 1
                    continue
                if outcome in ACCEPTED:
                    why = f"event {key} was processed before with a different body; not applied"
                    conflict = Rejected("event.conflicting_duplicate", why, "event_id")
                    self._reject(result, msg, event, conflict, None, event_id, now)
                    continue
                log.info("event.id_reclaimed", event_id=key, refused_before=outcome)
            cause = poisoned.get(key, unwritable)
            if cause is not None:
                error = internal_error(cause)
            if error is None:
                error = reserved_id(event)
            if error is None:
                try:
                    outcome = self._apply(result, msg, event, current, context, now)
                except Rejected as exc:
                    error = exc
                except Exception as exc:
                    raise _Poisoned(key, exc) from exc
            if error is not None:
                self._reject(result, msg, event, error, key, event_id, now, digest)
                outcome = error.code
            else:
                self._processed(result.write, key, outcome, now, digest)
                result.applied += 1
            done[key] = (digest, outcome)
        self._collect_denials(result, loaded, current, now)
        result.open_work = {owner: context.open_work[owner] for owner in result.write.workload}
        return result

    @staticmethod
    def _load(conn: Connection, ids: set[str], after: BatchResult | None) -> dict[str, SimpleNamespace]:
        """The denials ``ids`` name as they stand: as ``after`` left them, else as stored."""
        held = after.denials if after is not None else {}
        loaded = {i: held[i] for i in ids if i in held}
        loaded.update(store.load_working(conn, ids - loaded.keys()))
        return loaded

    def _apply(
        self,
        result: BatchResult,
        msg: Inbound,
        event: Any,
        current: dict[str, SimpleNamespace],
        context: Context,
        now: datetime,
    ) -> str:
        """Apply one valid event; return the outcome to record, or raise `Rejected`."""
        if event.type in WITHOUT_DENIAL:
            return self._prevention.apply(msg, event, now)
        stored = [self._moved.get(i, i) for i in _denial_ids(event)]
        fired = event.type == "denial.timer_fired"
        if fired and not is_current(current.get(stored[0]), event.data.rule, event.data.generation):
            return "timer.stale"
        if event.type == "denial.reversed":
            matched = [i for i in stored if i in current]
            if not matched:
                _review(result.write, "reversal_unmatched", event, now)
                return "review.reversal_unmatched"
        elif event.type == "denial.paid" and stored[0] not in current:
            return "no_denial"  # a paid line no denial is open for: the usual case
        else:
            matched = stored
        changes = [apply_event(event, current.get(i), self.policy, context) for i in matched]
        if kind := _review_kind(event, current.get(matched[0])):
            _review(result.write, kind, event, now)
        for denial, steps in changes:  # every denial passed its guards: now change them
            _track_open_work(context, result.write, current.get(denial.id), denial)
            current[denial.id] = denial
            self._record(result, msg, event, denial, steps, now)
            if fired:
                mark_fired(denial)
            rearm(denial, desired_timers(denial, self.policy.escalation))
        return "applied"

    def _reject(
        self,
        result: BatchResult,
        msg: Inbound,
        event: Any,
        error: Rejected,
        key: str | None,
        event_id: str | None,
        now: datetime,
        digest: str | None = None,
    ) -> None:
        """Dead-letter one record; ``key`` None when its id's first processing keeps the record."""
        result.rejected += 1
        result.rejected_by_code[error.code] = result.rejected_by_code.get(error.code, 0) + 1
        if key is not None:
            self._processed(result.write, key, error.code[:80], now, digest)
        result.write.outbox.append(dead_letter(msg, error, event_id, self.topics.dlq))
        log.warning(
            "event.rejected", code=error.code, field=error.field, detail=error.message, event_id=event_id,
            denial_id=event.denial_id if event is not None else None,
            source=f"{msg.topic}/{msg.partition}/{msg.offset}",
        )  # fmt: skip

    def _processed(self, write: store.BatchWrite, key: str, outcome: str, now: datetime, digest: str | None) -> None:
        """The id's `processed_events` row: new, or replacing a refusal stored under the same id
        (checked to be still the body it was) or recorded earlier in this batch."""
        row = {"event_id": key, "outcome": outcome, "processed_at": now, "digest": digest}
        if key in self._rows:
            self._rows[key].update(row)
        elif key in self._stored:
            was, was_outcome = self._stored[key]
            self._rows[key] = {**row, "_was": was, "_was_outcome": was_outcome}
            write.reclaimed.append(self._rows[key])
        else:
            self._rows[key] = row
            write.processed.append(row)

    def _record(
        self, result: BatchResult, msg: Inbound, event: Any, denial: SimpleNamespace, steps: list[Step], now: datetime
    ) -> None:
        for step in steps:
            denial.audit_seq += 1
            entry = {
                "denial_id": denial.id,
                "seq": denial.audit_seq,
                "event_id": event.event_id,
                "event_type": event.type,
                "trigger": step.trigger,
                "from_state": step.from_state,
                "to_state": step.to_state,
                "actor": event.actor,
                "role": event.role.value,
                "occurred_at": event.occurred_at,
                "recorded_at": now,
                "reason": step.reason,
                "payload": step.payload,
                "source_topic": msg.topic,
                "source_partition": msg.partition,
                "source_offset": msg.offset,
                "prev_hash": denial.audit_head,
            }
            entry["hash"] = denial.audit_head = entry_hash(entry)
            result.write.audit.append(entry)
            if outcome := _outcome_event(denial, entry):
                result.write.outcomes.append(outcome)
            result.write.outbox.append(
                Message(self.topics.transitions, denial.id.encode(), _feed_message(denial, entry))
            )
            result.transitions += 1

    @staticmethod
    def _collect_denials(
        result: BatchResult, loaded: dict[str, SimpleNamespace], current: dict[str, SimpleNamespace], now: datetime
    ) -> None:
        write = result.write
        for denial_id, denial in current.items():
            before = loaded.get(denial_id)
            if before is denial:
                continue
            result.denials[denial_id] = denial
            denial.updated_at = now
            if before is None:
                denial.version = 1
                write.new_denials.append(store.denial_row(denial))
            else:
                denial.version = before.version + 1
                write.changed_denials.append(store.denial_changes(denial, before))
