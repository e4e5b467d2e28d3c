"""The hand-labelled synthetic 835 cases (tests/data/835/cases/, labelled from DOMAIN.md by
someone who did not write the engine; NOTES.md there gives each label's reasoning): every
labelled denial found with its category, team and primary reason, nothing else opened, the
refused files refused, and the later remittances matched to the denials they answer."""

import io
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.intake.events import decode
from engine.intake.ingest import read_remittance
from engine.intake.x12.denials import RemittanceEvents
from engine.intake.x12.remit import read_835
from engine.intake.x12.tokens import X12Error
from workflows.classification import ClaimContext, classify
from workflows.routing import Routing

CASES = Path(__file__).parents[1] / "data" / "835" / "cases"
LABELS = {f["file"]: f for f in json.loads((CASES / "labels.json").read_text())["files"]}
NOW = datetime(2026, 12, 1, tzinfo=UTC)
ROUTING = Routing.load()


def _events(name: str) -> list[tuple[tuple[str, int, int], Any]]:
    """Each event with the labels' address of its claim line: (CLP01, which CLP with that CLP01, line)."""
    events_of = RemittanceEvents(NOW)
    seen: Counter[str] = Counter()
    out = []
    with (CASES / name).open("rb") as stream:
        for remit, claim in read_835(stream):
            seen[claim.patient_control_number] += 1
            for doc in events_of(remit, claim)[0]:
                event = decode(json.dumps(doc).encode())
                line = getattr(event.data, "line", 0)
                out.append(((claim.patient_control_number, seen[claim.patient_control_number], line), event))
    return out


def _found(name: str) -> dict[tuple[str, int, int], dict[str, str]]:
    found = {}
    for where, event in _events(name):
        if event.type != "denial.received":
            continue
        d = event.data
        c = classify(d.adjustments, d.remarks, ClaimContext(d.claim_status, d.paid_amount), d.related_remarks)
        team = ROUTING.route(d.payer_id, c.category, event.denial_id, {})[0]
        found[where] = {"category": c.category, "team": team, "primary_reason": f"{c.primary_group}-{c.primary_reason}"}
    return found


def _address(label: dict[str, Any]) -> tuple[str, int, int]:
    return label["claim"], label.get("occurrence", 1), label["line"]


ACCEPTED = [name for name, label in LABELS.items() if label["accepted"]]


def test_every_case_file_is_labelled() -> None:
    assert sorted(LABELS) == sorted(p.name for p in CASES.glob("*.835"))


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_labelled_denial_is_found_with_its_category_team_and_primary_reason(name: str) -> None:
    found = _found(name)
    expected = {_address(d): {k: d[k] for k in ("category", "team", "primary_reason")} for d in LABELS[name]["denials"]}
    assert found == expected


@pytest.mark.parametrize("name", ACCEPTED)
def test_nothing_labelled_not_a_denial_is_opened(name: str) -> None:
    opened = set(_found(name))
    assert [n for n in LABELS[name]["not_denials"] if _address(n) in opened] == []


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_files_are_read_whole(name: str) -> None:
    tally = read_remittance(io.BytesIO((CASES / name).read_bytes()), lambda key, value: None, NOW)
    assert tally.denials == len(LABELS[name]["denials"])


@pytest.mark.parametrize("name", [name for name, label in LABELS.items() if not label["accepted"]])
def test_damaged_files_are_refused(name: str) -> None:
    with pytest.raises(X12Error):
        read_remittance(io.BytesIO((CASES / name).read_bytes()), lambda key, value: None, NOW)


@pytest.mark.parametrize("name", [name for name, label in LABELS.items() if label.get("answers")])
def test_a_later_remittance_answers_the_denial_of_the_same_claim_line(name: str) -> None:
    opened, before = set(), LABELS[name].get("after")
    while before:  # every denial the files before this one opened
        opened |= {e.denial_id for _, e in _events(before) if e.type == "denial.received"}
        before = LABELS[before].get("after")
    later = {(where[0], where[2]): e for where, e in _events(name)}
    for answer in LABELS[name]["answers"]:
        hit = later[(answer["claim"], answer["line"])]
        assert hit.denial_id in opened, answer
        kind = {"paid": "denial.paid", "denied_again": "denial.received", "partial": "denial.received"}
        assert hit.type == kind[answer["outcome"]], answer
        if answer["outcome"] != "denied_again":
            assert f"{hit.data.paid_amount:.2f}" == answer["amount"], answer
