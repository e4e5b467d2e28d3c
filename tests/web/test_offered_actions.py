"""The denial page offers only what the engine's guards (workflows/guards.py) will accept from
this caller in this state: an auditor or admin nothing, staff the work on denials they own and
a payer's answer on any, a lead everything the state allows, and past a payer deadline only a
lead, whose form then asks for the override reason."""

import re
from datetime import date
from types import SimpleNamespace

import pytest

from engine.intake.event_data import Role
from engine.web.actions import available
from engine.web.auth import Principal
from tests.factories import T0, touch
from tests.store.batches import commit, inbound
from tests.web.conftest import DENIAL, Web, log_in

OWNER = Principal("olive.owner", Role.STAFF)
OTHER = Principal("sam.staff", Role.STAFF)
LEAD = Principal("lena.lead", Role.LEAD)
AUDITOR = Principal("ava.auditor", Role.AUDITOR)
ADMIN = Principal("root", Role.ADMIN)
FUTURE, PAST = date(2027, 1, 1), date(2026, 9, 1)


def _denial(state: str, deadline: date = FUTURE, outcome: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(state=state, owner=OWNER.name, appeal_deadline=deadline, filing_deadline=deadline,
                           retro_auth_deadline=None, denied_cents=167_497, outcome=outcome)  # fmt: skip


def _offered(state: str, who: Principal, deadline: date = FUTURE) -> list[str]:
    return [o.action.slug for o in available(_denial(state, deadline), who, T0)]


@pytest.mark.parametrize(
    ("state", "who", "expected"),
    [
        ("assigned", OWNER, ["touched"]),
        ("assigned", OTHER, []),
        ("assigned", LEAD, ["touched", "reassigned"]),
        ("worked", OWNER, ["touched", "appealed", "resubmitted"]),
        ("worked", OTHER, []),
        ("worked", LEAD, ["touched", "appealed", "resubmitted", "written_off", "reassigned"]),
        ("appealed", OWNER, ["payer_responded"]),
        ("appealed", OTHER, ["payer_responded"]),  # any staff may record the payer's answer
        ("escalated", OWNER, []),  # an escalated denial's appeal is a lead's
        ("escalated", LEAD, ["appealed", "written_off", "reassigned"]),
        ("resolved", OWNER, ["closed"]),
        ("resolved", OTHER, []),
        ("closed", OWNER, []),
        ("closed", LEAD, ["reopened"]),
        ("classified", LEAD, ["assigned"]),
    ],
)
def test_each_role_is_offered_what_the_guards_accept(state: str, who: Principal, expected: list[str]) -> None:
    assert _offered(state, who) == expected


@pytest.mark.parametrize("state", ["assigned", "worked", "appealed", "escalated", "resolved", "closed"])
def test_auditors_and_admins_are_offered_nothing(state: str) -> None:
    assert _offered(state, AUDITOR) == [] and _offered(state, ADMIN) == []


def test_past_the_payer_deadline_only_a_lead_may_appeal_and_must_give_a_reason() -> None:
    assert _offered("worked", OWNER, PAST) == ["touched"]
    offers = {o.action.slug: o for o in available(_denial("worked", PAST), LEAD, T0)}
    assert offers["appealed"].override and offers["resubmitted"].override and not offers["touched"].override
    [reason] = [f for f in offers["appealed"].fields if f.name == "override_reason"]
    assert reason.required
    in_time = {o.action.slug: o for o in available(_denial("worked"), OWNER, T0)}
    assert not any(f.name == "override_reason" for f in in_time["appealed"].fields)  # staff cannot override


def test_the_denial_page_lists_the_offers(web: Web) -> None:
    def offered(who: str) -> list[str]:
        log_in(web, who)
        return re.findall(r'data-action="([a-z_]+)"', web.client.get(f"/denials/{DENIAL}").text)

    assert offered("owner") == ["touched"]
    assert offered("staff") == []  # not the owner
    assert offered("lead") == ["touched", "reassigned"]
    assert offered("auditor") == [] and offered("admin") == []


def test_the_write_off_form_starts_at_the_open_amount_and_asks_for_a_reason_code(web: Web) -> None:
    [offer] = [o for o in available(_denial("worked"), LEAD, T0) if o.action.slug == "written_off"]
    assert offer.values == {"amount": "1674.97"} and "reason_code" in [f.name for f in offer.fields]
    paid = {"remittances": [{"outcome": "partial", "paid_amount": "500.00"}]}  # a later remittance paid part
    [offer] = [o for o in available(_denial("worked", outcome=paid), LEAD, T0) if o.action.slug == "written_off"]
    assert offer.values == {"amount": "1174.97"}
    commit(web.engine, inbound([touch(DENIAL, web.owner)], start=1))  # worked: a lead may write it off
    log_in(web, "lead")
    form = web.client.get(f"/denials/{DENIAL}").text.split('data-action="written_off"', 1)[1].split("</form>", 1)[0]
    assert '<input type="text" name="amount" value="350.00" required>' in form
    assert '<input type="text" name="reason_code" value="" >' in form
