"""A denial is the practice's claim line: kept apart from other claims that share its ids,
found again on later remittances, deduplicated when the same adjudication comes twice."""

import io
from typing import Any

from engine.intake.events import decode
from engine.intake.ingest import read_remittance
from tests.x12_text import Claim, Line, remittance

DENIED = Line("90837", "200.00", "0.00", [("CO", "197", "200.00")])


def received(raw: bytes) -> list[Any]:
    out: list[Any] = []
    read_remittance(io.BytesIO(raw), lambda key, value: out.append(decode(value)))
    return [e for e in out if e.type == "denial.received"]


def test_claims_sharing_clp01_and_a_masked_clp07_are_kept_apart_and_flagged() -> None:
    other_patient = Claim("PCN-1", "4", [Line("90837", "200.00", "0.00", [("CO", "27", "200.00")])], icn="XXXX")
    events = received(remittance([Claim("PCN-1", "4", [DENIED], icn="XXXX"), other_patient]))
    assert len({e.denial_id for e in events}) == 2
    assert [e.data.collides_with is not None for e in events] == [False, True]


def test_the_same_adjudication_twice_in_one_file_is_one_denial() -> None:
    claim = Claim("PCN-1", "4", [DENIED], icn="ICN-1")
    twin = Claim("PCN-1", "4", [Line("90837", "200.00", "0.00", [("CO", "27", "200.00")])], icn="ICN-2")
    events = received(remittance([claim, twin, claim, twin]))
    assert len(events) == 4 and len({e.event_id for e in events}) == 2 == len({e.denial_id for e in events})


def test_a_later_remittance_resolves_to_the_same_claim_line_whatever_the_payer_numbers() -> None:
    first = received(remittance([Claim("PCN-1", "4", [DENIED], icn="ICN-1")], trace="T1"))
    moved = Line("90837", "200.00", "0.00", [("CO", "16", "200.00")])  # the same line, now second on the claim
    later = received(remittance([Claim("PCN-1", "4", [Line("90791", "150.00", "0.00", [("CO", "16", "150.00")]),
                                                      moved], icn="ICN-9")], trace="T2"))  # fmt: skip
    assert later[1].denial_id == first[0].denial_id and later[1].event_id != first[0].event_id


def test_a_line_item_control_number_wins_over_procedure_and_modifiers() -> None:
    sent = Line("64483", "600.00", "0.00", [("CO", "4", "600.00")], line_control="LN-7")
    corrected = Line("64484", "600.00", "0.00", [("CO", "16", "600.00")], line_control="LN-7")
    first = received(remittance([Claim("PCN-2", "4", [sent])], trace="T1"))
    later = received(remittance([Claim("PCN-2", "4", [corrected])], trace="T2"))
    assert first[0].denial_id == later[0].denial_id


def test_a_line_item_control_number_repeated_within_a_claim_does_not_merge_its_lines() -> None:
    masked = [Line("99999", "215.00", "0.00", [("CO", "16", "215.00")], line_control="999X9"),
              Line("99999", "15.00", "0.00", [("CO", "16", "15.00")], line_control="999X9")]  # fmt: skip
    events = received(remittance([Claim("PCN-3", "4", masked)]))
    assert len({e.denial_id for e in events}) == 2


def test_claims_kept_apart_keep_their_identity_in_another_file_by_patient() -> None:
    first, second = Claim("PCN-1", "4", [DENIED], icn="XXXX"), Claim("PCN-1", "4", [DENIED], icn="XXXX")
    files = [remittance([first, second]), remittance([Claim("PCN-0", "1", [Line("99213", "90.00", "90.00")]), first,
                                                       second])]  # fmt: skip
    twins: list[set[str]] = []
    for raw in files:
        # the same patient in both claims is told apart by position only: give the second its own
        raw = raw[: raw.rindex(b"MEMBER001")] + b"MEMBER002" + raw[raw.rindex(b"MEMBER001") + 9 :]
        twins.append({e.denial_id for e in received(raw)})
    assert len(twins[0]) == 2 and twins[0] == twins[1]
