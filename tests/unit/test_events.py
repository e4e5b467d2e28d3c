import json

import pytest

from engine.claim_identity import claim_line_key, denial_id_for, legacy_denial_id_for
from engine.errors import Rejected
from engine.events import EVENT_TYPES, decode
from tests.factories import received_doc, received_id, touch


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
