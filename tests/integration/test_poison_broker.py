"""Issue 10's poison corpus on the real broker, on SQLite and PostgreSQL: among valid events, every
hostile record is dead-lettered with a reason and the worker goes on, and the store ends as a clean
run of the valid events alone leaves it. Two corpora: the issue's killers and more (`issue_corpus`),
and values the schema takes but the store cannot hold (`store_limits`). Generated hostile events
are in `test_generated_hostile_events`; the store's own refusals close this module."""

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy import text

from engine.audit.chain import verify
from engine.config import Settings
from engine.demo.feed import LEAD as DEMO_LEAD
from engine.demo.feed import demo_events
from engine.intake.events import partition_key
from engine.intake.records import DEAD_LETTER_MAX_BYTES
from engine.runtime.kafka import BROKER_MAX_MESSAGE_BYTES, make_producer
from engine.runtime.processor import ACCEPTED
from engine.storage.db import make_engine, upgrade
from tests.factories import (
    authorization_doc,
    event_doc,
    received_id,
)
from tests.helpers import publish, read_topic, run_worker, snapshot, variant
from tests.integration.test_crash_and_rebalance import settings  # noqa: F401 (one owner per team, so runs compare)
from tests.store.test_poison import _with, hostile

Record = tuple[bytes, bytes | None]  # (key, value): a tombstone still needs a key to be sent


class Bad(NamedTuple):
    """A bad record, the code (or its prefix) its dead letter must carry, and its key when it must
    follow a denial's receipt on that denial's partition."""

    value: bytes | None
    code: str
    key: bytes | None = None


VALID = list(demo_events(26))
GOOD = VALID[0]  # a demo receipt: `hostile` aims at a denial the feed really has
TOUCH = next(e for e in VALID if e["type"] == "denial.touched")
MALFORMED = "schema.malformed_json"
INVALID = "schema.invalid_field"


def _doc(doc: dict[str, Any], n: int, path: str, value: Any) -> bytes:
    """``doc`` with ``value`` at ``path`` under an id of its own (so only ``path`` is at fault)."""
    return json.dumps({**_with(doc, path, value), "event_id": f"poison-{n}"}).encode()


def _spliced(doc: dict[str, Any], n: int, path: str, raw: bytes) -> bytes:
    """The same with raw JSON text at ``path``: nesting deeper than `json.dumps` will write."""
    return _doc(doc, n, path, "@splice@").replace(b'"@splice@"', raw)


def _own_poison() -> list[Bad]:
    """Beyond `hostile`: random bytes, truncations, bytes that are not UTF-8, JSON that is not an
    object, deep nesting, a record past the dead letter's cut, control characters, dates and amounts
    out of bounds in data fields; each with the code (or its prefix) its dead letter must carry."""
    rng = random.Random(20261010)
    raw = json.dumps(TOUCH).encode()
    denial = TOUCH["denial_id"]
    lead = (DEMO_LEAD, "lead")
    escalated = event_doc("denial.escalated", denial, lead, {"rule": "lead_review", "detail": {}})
    extended = event_doc(
        "denial.deadline_extended", denial, lead, {"deadline": "appeal", "until": "2026-12-31", "reason": "granted"}
    )
    off = event_doc("denial.written_off", denial, lead, {"adjustment_type": "bad_debt", "amount": "1", "reason": "r"})
    fields = [(TOUCH, "denial_id", "a\x00b"), (TOUCH, "actor", "morgan\x00lead"), (TOUCH, "data.note", "\x1b[2J"),
              (extended, "data.reason", "gran\x00ted"), (extended, "data.reference", "\x07"),
              (extended, "data.until", "2026-02-30"), (GOOD, "data.date_of_service", "9999-12-31"),
              (GOOD, "data.billed_amount", "1_000"), (GOOD, "data.billed_amount", "1e3"),
              (GOOD, "data.billed_amount", 1e308), (off, "data.amount", "99999999999999999999.99"),
              (TOUCH, "occurred_at", 1790000000), (TOUCH, "data.next_action_date", 20261020)]  # fmt: skip
    return [
        *(Bad(rng.randbytes(n), MALFORMED) for n in (7, 64, 1000, 65_536)),
        *(Bad(raw[:cut], MALFORMED) for cut in (1, 16, len(raw) // 2, len(raw) - 1)),
        Bad(raw.replace(b"called payer", b"caf\xe9 payer"), MALFORMED),
        Bad(b"\xff\xfe" + raw, MALFORMED),
        *(Bad(value, "schema.") for value in (b"[1, 2]", b"42", b'"denial.touched"', b"null", b"[" + raw + b"]")),
        Bad(_spliced(TOUCH, 1, "data.note", b"[" * 50 + b"]" * 50), INVALID),
        Bad(_spliced(escalated, 2, "data.detail", b'{"a": ' * 10 + b"{}" + b"}" * 10), INVALID),
        Bad(_spliced(escalated, 3, "data.detail", b'{"a": ' * 5000 + b"{}" + b"}" * 5000), MALFORMED),
        Bad(_doc(escalated, 4, "data.detail", {"x": "y" * 900_000}), INVALID),  # past the cut, under 1 MiB
        *(Bad(_doc(doc, 10 + n, path, value), INVALID) for n, (doc, path, value) in enumerate(fields)),
    ]


def issue_corpus() -> list[Bad]:
    """Issue 10's killers (`hostile`: each refused by the schema) and the rest of the poison above."""
    given = [Bad(None if m is None else m if isinstance(m, bytes) else json.dumps(m).encode(), "schema.")
             for m in hostile(GOOD)]  # fmt: skip
    return [*given, *_own_poison()]


def _apart(n: int) -> dict[str, Any]:
    """`GOOD`'s receipt for another patient: a denial of its own."""
    return {**GOOD, "data": {**GOOD["data"], "patient_control_number": f"PCN-LIMITS-{n}"}}


def store_limits() -> list[Bad]:
    """Values past what the store can hold: text longer than its column (free text may be 500
    characters, a payer id's column holds 80, an owner's 120), integers past a 32-bit column, and an
    integer past 64 bits in a detail. Each once took the schema and then crashed the batch's write
    (PostgreSQL: too long, out of range; SQLite: past 64 bits), every restart again: the schema now
    bounds each field by its column and names it."""
    denial = received_id(GOOD)
    reassigned = event_doc("denial.reassigned", denial, (DEMO_LEAD, "lead"), {"owner": "o", "reason": "r"})
    escalated = event_doc("denial.escalated", denial, (DEMO_LEAD, "lead"), {"rule": "lead_review", "detail": {}})
    auth = authorization_doc("AUTH-LIMITS")
    receipts = [("data.payer_id", "P" * 81), ("data.claim_control_number", "C" * 81), ("data.site", "S" * 121),
                ("data.procedure_code", "9" * 61), ("data.line", 2**31), ("data.line", 2**63)]  # fmt: skip
    return [
        *(Bad(_doc(_apart(n), 30 + n, path, value), INVALID) for n, (path, value) in enumerate(receipts)),
        *(Bad(_doc(auth, 40 + n, "data.units_approved", value), INVALID) for n, value in enumerate((2**31, 2**63))),
        Bad(_doc(reassigned, 42, "data.owner", "o" * 121), INVALID, denial.encode()),
        Bad(_doc(escalated, 43, "data.detail", {"figure": 10**30}), INVALID),
    ]


def _send(s: Settings, records: Iterable[Record]) -> int:
    """Keyed raw records, each up to the broker's limit (beyond what the engine's producers send)."""
    producer = make_producer(s, max_request_size=BROKER_MAX_MESSAGE_BYTES)
    n = 0
    for key, value in records:
        producer.send(s.events_topic, key=key, value=value)
        n += 1
    producer.flush()
    producer.close()
    return n


def _letter(value: bytes | None) -> bytes:
    """What a dead letter keeps of a record's bytes (a tombstone's is empty: `engine.runtime.messages`)."""
    return b"" if value is None else value[:DEAD_LETTER_MAX_BYTES]


def _reason(letter: ConsumerRecord) -> dict[str, Any]:
    return json.loads(dict(letter.headers)["denialflow.error"])


def _clean_run(s: Settings, tmp_path: Path) -> dict[str, Any]:
    """The valid events alone, on a topic of their own, into their own SQLite file."""
    url = f"sqlite:///{tmp_path / 'clean.db'}"
    upgrade(url)
    clean = variant(s, database_url=url, events_topic=f"{s.events_topic}.clean")
    run_worker(clean, publish(clean, VALID))
    return snapshot(url)


def _unplaced(audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log without where each event sat: the bad records among them move the offsets."""
    return [{k: v for k, v in entry.items() if k not in {"source_topic", "source_offset"}} for entry in audit]


def _chain_intact(url: str) -> bool:
    engine = make_engine(url)
    with engine.connect() as conn:
        broken = verify(conn)[1]
    engine.dispose()
    return broken is None


@pytest.mark.parametrize("corpus", [issue_corpus, store_limits])
def test_the_poison_corpus_is_dead_lettered_and_the_store_equals_a_clean_run(
    settings: Settings,  # noqa: F811
    tmp_path: Path,
    corpus: Callable[[], list[Bad]],
) -> None:
    bad = corpus()
    expected = {_letter(b.value): b for b in bad}
    assert len(expected) == len(bad), "each bad record's dead letter must be told apart"
    records: list[Record] = [(partition_key(doc), json.dumps(doc).encode()) for doc in VALID]
    for n, b in enumerate(bad):  # strewn among the valid events, on every partition, after the first receipt
        records.insert(random.Random(n).randrange(1, len(records) + 1), (b.key or f"poison-{n}".encode(), b.value))
    total = _send(settings, records)

    progress = run_worker(settings, total, timeout=120)  # the worker raising would fail the test here
    assert (progress.records, progress.rejected) == (total, len(bad))

    letters = read_topic(settings, settings.dlq_topic)
    assert Counter(r.value for r in letters) == Counter(map(_letter, expected))
    for letter in letters:
        value, code, _ = expected[letter.value]
        assert _reason(letter)["code"].startswith(code), (value and value[:80], _reason(letter))
        if value is not None and len(value) > DEAD_LETTER_MAX_BYTES:
            assert json.loads(dict(letter.headers)["denialflow.truncated"])["size"] == len(value)

    got, want = snapshot(settings.database_url), _clean_run(settings, tmp_path)
    assert got["denials"] == want["denials"]
    assert _unplaced(got["audit"]) == _unplaced(want["audit"]), "a bad record changed the audit log"
    assert got["workload"] == want["workload"] and got["outbox_left"] == 0
    assert {k: got["processed"][k] for k in want["processed"]} == want["processed"]
    refused = [outcome for k, outcome in got["processed"].items() if k not in want["processed"]]
    assert len(refused) == len(bad) and not ACCEPTED & set(refused)
    assert _chain_intact(settings.database_url)


# --- what the store refuses after the schema took it ------------------------------------------


@pytest.fixture
def narrow_site(pg_settings: Settings) -> Iterator[Settings]:
    """PostgreSQL with the denials' `site` column cut to 4 characters for this test (and restored):
    a valid receipt's site then fails the write, as a value past a column the schema does not know would."""
    engine = make_engine(pg_settings.database_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE denials ALTER COLUMN site TYPE varchar(4)"))
    try:
        yield pg_settings
    finally:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE denials CASCADE"))
            conn.execute(text("ALTER TABLE denials ALTER COLUMN site TYPE varchar(120)"))
        engine.dispose()


def test_a_record_the_store_refuses_is_dead_lettered_alone_and_the_rest_of_its_batch_applied(
    narrow_site: Settings,
) -> None:
    docs = [{**_with(_apart(n), "data.site", site), "event_id": f"site-{n}"}
            for n, site in enumerate(["MAIN", "MAIN", "Riverside", "EAST"])]  # fmt: skip
    progress = run_worker(narrow_site, publish(narrow_site, docs))
    assert (progress.records, progress.rejected) == (4, 1)

    (letter,) = read_topic(narrow_site, narrow_site.dlq_topic)
    assert json.loads(letter.value)["event_id"] == "site-2"
    assert _reason(letter) == {"code": "engine.internal_error", "message": "DataError while handling this record",
                               "field": None}  # fmt: skip
    got = snapshot(narrow_site.database_url)
    assert sorted(d["site"] for d in got["denials"].values()) == ["EAST", "MAIN", "MAIN"]
    assert got["processed"]["site-2"] == "engine.internal_error" and _chain_intact(narrow_site.database_url)


def test_a_step_reason_joining_two_long_texts_is_stored_whole(settings: Settings) -> None:  # noqa: F811
    """A deadline extension's reason is the schema's 500 characters plus the figures the engine adds."""
    denial = received_id(GOOD)
    why = ("payer granted an extension after a documented outage; " * 9)[:499] + "."
    extended = event_doc("denial.deadline_extended", denial, (DEMO_LEAD, "lead"),
                         {"deadline": "appeal", "until": "2027-01-31", "reason": why})  # fmt: skip
    progress = run_worker(settings, publish(settings, [GOOD, extended]))
    assert (progress.records, progress.rejected) == (2, 0)
    (entry,) = [e for e in snapshot(settings.database_url)["audit"] if e["event_type"] == "denial.deadline_extended"]
    assert entry["reason"].endswith(why) and len(entry["reason"]) > 500
