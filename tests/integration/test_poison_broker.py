"""Issue 10's poison corpus on the real broker, on SQLite and PostgreSQL: among valid events, every
hostile record is dead-lettered with a reason and the worker goes on, and the store ends as a clean
run of the valid events alone leaves it. Two corpora: the issue's killers and more (`issue_corpus`),
and values the schema takes but the store cannot hold (`store_limits`). Then generated hostile
events (hypothesis): each record is applied or dead-lettered, never dropped, never the end of the worker."""

import itertools
import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy import text

from engine.audit.chain import verify
from engine.config import Settings
from engine.demo.feed import LEAD as DEMO_LEAD
from engine.demo.feed import demo_events
from engine.intake.claim_identity import authorization_id_for, claim_id_for
from engine.intake.events import EVENT_TYPES, parse, partition_key
from engine.intake.records import DEAD_LETTER_MAX_BYTES
from engine.runtime.broker import BundledBroker
from engine.runtime.kafka import BROKER_MAX_MESSAGE_BYTES, make_producer
from engine.runtime.processor import ACCEPTED
from engine.runtime.timers import ACTOR as TIMER_ACTOR
from engine.storage.db import make_engine, upgrade
from tests.conftest import drop_topics, make_settings
from tests.factories import (
    LEAD,
    SYSTEM,
    authorization_doc,
    claim_doc,
    event_doc,
    later_remit,
    received_doc,
    received_id,
)
from tests.helpers import publish, read_topic, run_worker, snapshot, variant
from tests.integration.test_crash_and_rebalance import (  # noqa: F401 (settings: one owner per team, so runs compare)
    _fresh_store,
    settings,
)
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


# --- generated hostile events --------------------------------------------------------------


def _plain(type_: str, actor: tuple[str, str], data: dict[str, Any]) -> dict[str, Any]:
    """An authorization or claim event: no denial id."""
    return {"event_id": f"base-{type_}", "type": type_, "occurred_at": "2026-10-02T09:00:00+00:00",
            "actor": actor[0], "role": actor[1], "data": data}  # fmt: skip


TARGET = received_doc(7001)  # every generated event aims at this denial, published just before them
_AT = received_id(TARGET)
_ON = "2026-10-20"
BASES: dict[str, dict[str, Any]] = {
    "denial.received": TARGET,
    "denial.paid": later_remit(TARGET, "denial.paid", "400.00"),
    "denial.reversed": event_doc("denial.reversed", _AT, SYSTEM, {
        "payer_id": "AETNA", "claim_control_number": "CCN007001", "patient_control_number": "PCN7001", "lines": [1],
        "reversed_amount": "-400.00", "remit_date": "2026-11-02"}),
    "denial.assigned": event_doc("denial.assigned", _AT, LEAD, {"owner": "ana.billing", "next_action_date": _ON}),
    "denial.touched": event_doc("denial.touched", _AT, LEAD, {"note": "called the payer", "next_action_date": _ON}),
    "denial.appealed": event_doc("denial.appealed", _AT, LEAD, {"appeal_reference": "APL-7001", "level": 1,
                                                                "deadline": "2026-12-01"}),
    "denial.resubmitted": event_doc("denial.resubmitted", _AT, LEAD, {"claim_reference": "CORR-7001"}),
    "denial.written_off": event_doc("denial.written_off", _AT, LEAD, {
        "adjustment_type": "administrative", "amount": "350.00", "reason": "not collectible", "reason_code": "45"}),
    "denial.payer_responded": event_doc("denial.payer_responded", _AT, SYSTEM, {
        "outcome": "paid", "paid_amount": "350.00", "payment_trace": "TRN-7001", "icn": "ICN7001"}),
    "denial.escalated": event_doc("denial.escalated", _AT, LEAD, {"rule": "lead_review",
                                                                  "detail": {"why": "unresponsive", "touches": 3}}),
    "denial.reassigned": event_doc("denial.reassigned", _AT, LEAD, {"owner": "indy.billing", "reason": "eyes",
                                                                    "next_action_date": _ON}),
    "denial.closed": event_doc("denial.closed", _AT, LEAD, {
        "root_cause": {"category": "prior_authorization", "handoff": "front desk -> billing", "preventable": True,
                       "prevention_owner": "revenue cycle lead"},
        "evidence": {"payment_trace": "TRN-7001", "paid_amount": "350.00", "decision": "paid"}}),
    "denial.reopened": event_doc("denial.reopened", _AT, LEAD, {"reason": "payer took the payment back"}),
    "denial.timer_fired": event_doc("denial.timer_fired", _AT, (TIMER_ACTOR, "system"), {
        "rule": "follow_up", "generation": 1, "due_at": "2026-10-20T09:00:00+00:00", "detail": {"age_days": 20}}),
    "denial.deadline_extended": event_doc("denial.deadline_extended", _AT, LEAD, {
        "deadline": "appeal", "until": "2026-12-31", "reason": "payer granted more time", "reference": "EXT-7001"}),
    "authorization.recorded": authorization_doc("AUTH-7001"),
    "denial.auth_rechecked": event_doc("denial.auth_rechecked", _AT, SYSTEM, {
        "reference": "AUTH-7001", "check": {"record": "AUTH-7001", "sub_cause": "auth_on_file_not_on_claim",
                                            "next_action": "correct the claim", "checks": []}}),
    "authorization.updated": _plain("authorization.updated", ("front.desk", "staff"), {
        "payer_id": "AETNA", "reference": "AUTH-7001", "member_id": "MBR-PHI-778899", "units_approved": 20,
        "reason": "payer approved more sessions"}),
    "authorization.alert_fired": _plain("authorization.alert_fired", (TIMER_ACTOR, "system"), {
        "authorization_id": authorization_id_for("AETNA", "AUTH-7001"), "rule": "auth_expires_soon",
        "generation": 1, "due_at": "2026-11-16T00:00:00+00:00", "detail": {}}),
    "claim.submitted": claim_doc(prior_authorization="AUTH-7001"),
    "claim.released": _plain("claim.released", LEAD, {
        "claim_id": claim_id_for("AETNA", "PCN-C1"), "payer_id": "AETNA", "member_id": "MBR-PHI-778899",
        "reason": "sent as it is"}),
}  # fmt: skip
CONTROLS = list(demo_events(4))  # valid events beside them, on other denials: each must be applied


def _nested(depth: int, container: str) -> Any:
    value: Any = {} if container == "dict" else []
    for _ in range(depth):
        value = {"a": value} if container == "dict" else [value]
    return value


#: Values at and past the schema's limits, of the wrong type, or nested deep.
LIMITS = [
    10**30, -(10**30), 2**63, 1e308, -1e308, -0.0, float("nan"), float("inf"), "NaN", "Infinity",
    "", " ", "\t", "x" * 100_000, "\x00", "a\x00b", "\x07", "\x1b[2J", "\x7f", "\ud800", "a\udfffb",
    "0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "20261001", "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00", "2026-10-01T09:00:00", "1e3", "99999999999999999999.99", "1_000", " 12 ", "0x10",
    -1, True, False, None, [], {}, ["x"], {"a": 1},
    *(_nested(depth, kind) for depth in (5, 150, 300) for kind in ("list", "dict")),
]  # fmt: skip
#: Values the schema may well accept, at the edges of what it accepts: these reach the workflow and the store.
EDGES = [
    "1900-01-01", "2100-12-31", "1900-01-01T00:00:00+00:00", "2100-12-31T23:59:59-12:00", "2100-12-31T23:59:59+14:00",
    "x" * 500, "\u00e9" * 500, "\U0001f600" * 500, "\u202egnp.exe", "\u200b", "\ufeff", "line\nbreak\ttab",
    "  padded  ", "'); DROP TABLE denials;--", "<script>alert(1)</script>", "%s%n{0}", "-0.00", "0.00", "0",
    "999999999999.99", "-999999999999.99", "A", "ZZZZZ", 0, 1, 3, 2**31, 2**63 - 1,
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(EDGES),
    st.sampled_from(LIMITS),
    st.text(st.characters(exclude_categories=()), max_size=20),  # lone surrogates and controls too
    st.integers(),
    st.floats(),
)
TEXTS = st.one_of(st.sampled_from([e for e in EDGES if isinstance(e, str)]), st.text(max_size=30))
UNKNOWN_TYPES = st.one_of(st.sampled_from(["denial.teleported", "DENIAL.TOUCHED", "denial.touched ", "", "denial"]),
                          st.text(max_size=20))  # fmt: skip
PLACEHOLDER = "generated"


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a document, at every depth."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    return [slot for key, child in items for slot in [(node, key), *_slots(child)]]


def _containers(node: Any) -> list[dict[str, Any]]:
    return [node] + [c for parent, key in _slots(node) if isinstance(c := parent[key], dict)]


@st.composite
def hostile_event(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document of some event type with one or two fields replaced (a text by another
    text at the edges, or any field by any value), dropped or added, or its type made unknown.
    Some stay valid; the oracle does not assume any is refused."""
    doc = json.loads(json.dumps(BASES[draw(st.sampled_from(EVENT_TYPES))]))
    doc["event_id"] = PLACEHOLDER
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["text", "text", "text", "replace", "replace", "drop", "extra", "type"]))
        slots = [(parent, key) for parent, key in _slots(doc) if (parent, key) != (doc, "type")]  # that is "type"'s
        texts = [(parent, key) for parent, key in slots if isinstance(parent[key], str)]
        if kind == "type":
            doc["type"] = draw(UNKNOWN_TYPES)
        elif kind == "extra":
            draw(st.sampled_from(_containers(doc)))[draw(st.text(max_size=8))] = draw(VALUES)
        elif kind == "text" and texts:
            parent, key = draw(st.sampled_from(texts))
            parent[key] = draw(TEXTS)
        elif slots:
            parent, key = draw(st.sampled_from(slots))
            if kind == "drop":
                del parent[key]
            else:
                parent[key] = draw(VALUES)
    return doc


def _numbered(docs: list[dict[str, Any]]) -> list[bytes]:
    """Each event its own id, unless a mutation chose one."""
    for n, doc in enumerate(docs):
        if doc.get("event_id") == PLACEHOLDER:
            doc["event_id"] = f"gen-{n}"
    return [json.dumps(doc).encode() for doc in docs]


#: No two records alike: an exact repeat is a duplicate, rightly neither applied nor dead-lettered.
hostile_feeds = st.lists(hostile_event(), min_size=25, max_size=30, unique_by=json.dumps).map(_numbered)
_EXAMPLES = itertools.count()


def test_every_generation_base_is_a_valid_event() -> None:
    assert sorted(BASES) == sorted(EVENT_TYPES)
    assert all(parse(doc).type == type_ for type_, doc in BASES.items())


@hypothesis_settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each step is a worker run on the broker
    database=None,  # nor replays kept in the working tree; a failure prints its feed
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(feed=hostile_feeds)
def test_generated_hostile_events_are_each_applied_or_dead_lettered(
    broker: BundledBroker,
    settings: Settings,  # noqa: F811
    tmp_path: Path,
    sqlite_template: Path,
    feed: list[bytes],
) -> None:
    # topics and store per example
    s = make_settings(broker, _fresh_store(settings, tmp_path, sqlite_template, next(_EXAMPLES)))
    try:
        _each_applied_or_dead_lettered(s, feed)
    finally:
        drop_topics(s)


def _each_applied_or_dead_lettered(s: Settings, feed: list[bytes]) -> None:
    valid = [TARGET, *CONTROLS]
    records = [(partition_key(doc), json.dumps(doc).encode()) for doc in valid]
    total = _send(s, [*records, *((_AT.encode(), value) for value in feed)])  # after the target, on its partition

    progress = run_worker(s, total)
    assert progress.records == total
    letters = read_topic(s, s.dlq_topic)
    assert len(letters) == progress.rejected
    assert all(_reason(letter)["code"] for letter in letters)
    lettered, sent = Counter(r.value for r in letters), Counter(map(_letter, feed))
    assert not lettered - sent, "a valid event was dead-lettered"
    processed = snapshot(s.database_url)["processed"]
    assert all(processed[doc["event_id"]] == "applied" for doc in valid)
    kept = sent - lettered  # not refused: so applied, under its own id
    assert all(processed[json.loads(value)["event_id"]] in ACCEPTED for value in kept.elements())
    assert _chain_intact(s.database_url)


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
