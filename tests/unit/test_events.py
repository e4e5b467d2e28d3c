import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from uuid import UUID, uuid5

import pytest

from engine.demo.remit import demo_remittance
from engine.errors import Rejected
from engine.intake.claim_identity import claim_line_key, denial_id_for, legacy_denial_id_for
from engine.intake.events import EVENT_TYPES, decode, parse
from engine.intake.ingest import ingest_file
from engine.intake.records import RESERVED_IDS, reserved_id
from engine.runtime.timers import fire_event
from tests.factories import T0, received_doc, received_id, touch


def _raw(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_received_event_derives_a_deterministic_denial_id() -> None:
    doc = received_doc(5)
    first, second = decode(_raw(doc)), decode(_raw({**doc, "event_id": "another"}))
    line = claim_line_key(1, None, "90837", [], "2026-09-10")
    assert first.denial_id == second.denial_id == denial_id_for("AETNA", "PCN5", line)
    assert denial_id_for("AETNA", "PCN5", claim_line_key(2, None, "90837", [], "2026-09-10", 2)) != first.denial_id


def test_identity_is_the_practice_claim_line_not_the_payer_adjudication() -> None:
    doc = received_doc(5)
    readjudicated = {**doc, "data": {**doc["data"], "claim_control_number": "NEW-ICN", "line": 3}}
    assert decode(_raw(readjudicated)).denial_id == decode(_raw(doc)).denial_id
    by_line_control = {**doc, "data": {**doc["data"], "line_control": "LN-1"}}
    assert decode(_raw(by_line_control)).denial_id == denial_id_for("AETNA", "PCN5", "6R:LN-1")
    other_claim = {**doc, "data": {**doc["data"], "patient_control_number": "PCN6"}}
    assert decode(_raw(other_claim)).denial_id != decode(_raw(doc)).denial_id


@pytest.mark.parametrize(
    ("parts", "name"),
    [(("AETNA", "PCN5", "90837::2026-09-10:1"), "AETNA|pcn:PCN5|90837::2026-09-10:1"),
     (("BCBS-TX", "Müller-7", "6R:LN 1"), "BCBS-TX|pcn:Müller-7|6R:LN 1"), (("", "", "0"), "|pcn:|0")],
)  # fmt: skip
def test_a_denial_id_is_the_uuid5_of_its_claim_line(parts: tuple[str, str, str], name: str) -> None:
    """Ids are stored and replayed: computing them without `uuid.uuid5` must not move one."""
    assert denial_id_for(*parts) == uuid5(UUID("6f0c1d52-5a43-4c61-9a0e-2f1e8e7d9b10"), name).hex
    assert denial_id_for("AETNA", "PCN5", "90837::2026-09-10:1") == "a9e95ccb42105a278971fe3af889cb79"


def test_a_receipt_derives_its_id_from_its_fields_as_written_around_blanks() -> None:
    """The id is derived from the validated fields: padding a person might send is no part of it."""
    doc = received_doc(5)
    padded = {**doc, "data": {**doc["data"], "payer_id": " AETNA ", "line_key": " K1 ", "modifiers": [" GT"]}}
    plain = {**doc, "data": {**doc["data"], "line_key": "K1", "modifiers": ["GT"]}}
    assert decode(_raw(padded)).denial_id == decode(_raw(plain)).denial_id == denial_id_for("AETNA", "PCN5", "K1")
    assert parse(json.loads(_raw(padded))).denial_id == decode(_raw(plain)).denial_id


def test_a_receipt_logged_before_claim_line_identity_still_parses_under_its_old_id() -> None:
    doc = received_doc(5)
    old = legacy_denial_id_for("AETNA", "CCN000005", 1)
    assert decode(_raw({**doc, "denial_id": old})).denial_id == old


def test_all_required_event_types_exist() -> None:
    required = {"received", "assigned", "touched", "appealed", "resubmitted", "written_off", "payer_responded",
                "escalated", "reassigned", "closed", "reopened"}  # fmt: skip
    assert {f"denial.{t}" for t in required} <= set(EVENT_TYPES)


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (b'{"event_id": "x", "type": ', "schema.malformed_json", None),
        (b"[1, 2]", "schema.invalid_field", None),
        (_raw({"event_id": "x", "type": "denial.beamed"}), "schema.unknown_type", "type"),
        (_raw({"event_id": "x"}), "schema.missing_field", "type"),
    ],
)
def test_unusable_bytes_are_rejected_with_a_code(raw: bytes, code: str, field: str | None) -> None:
    with pytest.raises(Rejected) as err:
        decode(raw)
    assert (err.value.code, err.value.field) == (code, field)


def test_missing_data_field_is_named() -> None:
    doc = touch("d1", "amy")
    del doc["data"]["next_action_date"]
    with pytest.raises(Rejected) as err:
        decode(_raw(doc))
    assert (err.value.code, err.value.field) == ("schema.missing_field", "data.next_action_date")


def test_follow_up_without_denial_id_is_refused() -> None:
    doc = touch("d1", "amy")
    del doc["denial_id"]
    with pytest.raises(Rejected) as err:
        decode(_raw(doc))
    assert (err.value.code, err.value.field) == ("schema.missing_field", "denial_id")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(occurred_at="2026-10-01T09:00:00"), "occurred_at"),
        (lambda d: d.update(role="janitor"), "role"),
        (lambda d: d["data"].update(billed_amount="-5.00"), "data.billed_amount"),
        (lambda d: d["data"].update(adjustments=[]), "data.adjustments"),
        (lambda d: d["data"].update(rendering_npi="12345"), "data.rendering_npi"),
        (lambda d: d["data"]["adjustments"][0].update(group="ZZ"), "data.adjustments.0.group"),
    ],
)
def test_invalid_fields_are_named(mutate: object, field: str) -> None:
    doc = received_doc()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(Rejected) as err:
        decode(_raw(doc))
    assert err.value.code == "schema.invalid_field"
    assert err.value.field == field


def test_unknown_fields_are_refused_not_ignored() -> None:
    doc = received_doc()
    doc["data"]["paitent"] = "typo"
    with pytest.raises(Rejected) as err:
        decode(_raw(doc))
    assert (err.value.code, err.value.field) == ("schema.unknown_field", "data.paitent")


def test_receipt_with_a_conflicting_denial_id_is_refused() -> None:
    doc = {**received_doc(), "denial_id": "f" * 32}
    with pytest.raises(Rejected) as err:
        decode(_raw(doc))
    assert "derived" in err.value.message
    assert decode(_raw({**doc, "denial_id": received_id(doc)})).denial_id == received_id(doc)


def _as(doc: dict, event_id: str, actor: str, role: str) -> object:
    return decode(_raw({**doc, "event_id": event_id, "actor": actor, "role": role}))


@pytest.mark.parametrize(
    ("event_id", "actor", "role", "reserved"),
    [
        ("timer-d1-follow_up-1", "timer-service", "system", False),
        ("timer-d1-follow_up-1", "clearinghouse", "system", True),
        ("timer-d1-follow_up-1", "lena.lead", "lead", True),
        ("835-0b6e51a1", "clearinghouse", "system", False),
        ("835-0b6e51a1", "anyone.system", "system", False),
        ("835-0b6e51a1", "amy", "staff", True),
        ("web-0b6e51a1", "amy", "staff", False),
        ("TIMER-d1", "amy", "staff", False),  # ids are case-sensitive: another id, nobody's namespace
    ],
)
def test_timer_and_835_ids_are_reserved_to_their_producers(
    event_id: str, actor: str, role: str, reserved: bool
) -> None:
    refusal = reserved_id(_as(touch("d1", "amy"), event_id, actor, role))
    assert (refusal.code, refusal.field) == ("event.reserved_id", "event_id") if reserved else refusal is None


def test_the_timer_service_and_the_835_reader_send_ids_in_their_own_namespace(tmp_path: Path) -> None:
    row = SimpleNamespace(denial_id="d1", rule="follow_up", generation=2, due_at=T0, detail={})
    assert reserved_id(parse(fire_event(row))) is None
    path = tmp_path / "demo.835"
    path.write_bytes(demo_remittance(date(2026, 10, 28)))
    sent: list[bytes] = []
    assert ingest_file(path, lambda _key, value: sent.append(value) and None).published == len(sent) > 0
    events = [decode(value) for value in sent]
    assert all(e.event_id.startswith("835-") and reserved_id(e) is None for e in events)
    assert {e.type for e in events} >= {"denial.received", "denial.reversed"}


def test_the_web_api_ids_are_in_no_reserved_namespace() -> None:
    assert not any(prefix.startswith("web-") or "web-".startswith(prefix) for prefix, _, _ in RESERVED_IDS)
