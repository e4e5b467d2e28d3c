"""Generated hostile events on the real broker (hypothesis), on SQLite and PostgreSQL: every event
type's valid form mutated (values at the type limits, nesting, unknown types and fields, wrong
ids); each record is applied or dead-lettered with a reason, never dropped, never the end of the
worker, and the audit chain stays intact. The fixed corpora are in `test_poison_broker`."""

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from engine.config import Settings
from engine.demo.feed import demo_events
from engine.intake.claim_identity import authorization_id_for, claim_id_for
from engine.intake.events import EVENT_TYPES, parse, partition_key
from engine.runtime.broker import BundledBroker
from engine.runtime.processor import ACCEPTED
from engine.runtime.timers import ACTOR as TIMER_ACTOR
from tests.conftest import make_settings, own_topics
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
from tests.helpers import read_topic, run_worker, snapshot
from tests.integration.test_crash_and_rebalance import (  # noqa: F401 (settings: one owner per team, so runs compare)
    _fresh_store,
    settings,
)
from tests.integration.test_poison_broker import _chain_intact, _letter, _reason, _send


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
    store = _fresh_store(settings, tmp_path, sqlite_template, next(_EXAMPLES))
    with own_topics(make_settings(broker, store)) as s:  # topics and store per example
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
