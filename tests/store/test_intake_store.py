"""What the 835 feed adds to a batch, on real SQLite and PostgreSQL: authorization records,
payment reversals and the open-work counts routing balances on."""

from datetime import date
from typing import Any

from sqlalchemy import Engine, select

from engine.audit.replay import replay
from engine.intake.claim_identity import claim_line_key, denial_id_for
from engine.read import queries
from engine.storage import store
from tests.factories import authorization_doc, event_doc, received_doc, received_id
from tests.store.batches import commit, inbound


def _reversal(doc: dict[str, Any], lines: list[int]) -> dict[str, Any]:
    d = doc["data"]
    keys = [claim_line_key(n, None, d["procedure_code"], [], d["date_of_service"], n) for n in lines]
    return event_doc("denial.reversed", denial_id_for(d["payer_id"], d["patient_control_number"], "0"),
                     ("clearinghouse", "system"),
                     {"payer_id": d["payer_id"], "claim_control_number": d["claim_control_number"], "lines": lines,
                      "patient_control_number": d["patient_control_number"], "line_keys": keys,
                      "reversed_amount": "-120.00", "remit_date": "2026-10-30"})  # fmt: skip


def test_an_authorization_recorded_earlier_in_the_batch_feeds_the_checklist(engine: Engine) -> None:
    doc = received_doc(1)
    result, _ = commit(engine, inbound([authorization_doc("AUTH-9"), doc]))
    assert result.applied == 2
    with engine.connect() as conn:
        denial = store.get_denial(conn, received_id(doc))
        assert denial.auth_check["record"] == "AUTH-9"
        assert denial.auth_check["sub_cause"] == "auth_on_file_not_on_claim"
        rows = conn.execute(select(store.AUTHORIZATIONS)).all()
        assert [(r.reference, r.procedure_codes, r.units_used) for r in rows] == [("AUTH-9", "90837,90834", 4)]
        assert replay(denial, store.history(conn, denial.id)).ok


def test_an_amended_authorization_replaces_the_record_and_later_receipts_use_it(engine: Engine) -> None:
    commit(engine, inbound([authorization_doc("AUTH-9")]))
    commit(engine, inbound([authorization_doc("AUTH-9", procedure_codes=["96130"])], start=1))
    doc = received_doc(2)
    commit(engine, inbound([doc], start=2))
    with engine.connect() as conn:
        assert conn.scalar(select(store.AUTHORIZATIONS.c.procedure_codes)) == "96130"
        assert store.get_denial(conn, received_id(doc)).auth_check["sub_cause"] == "cpt_mismatch"


def test_a_reversal_flags_each_matching_line_and_keeps_the_rest_for_review(engine: Engine) -> None:
    doc = received_doc(3)
    commit(engine, inbound([doc]))
    flagged, _ = commit(engine, inbound([_reversal(doc, [0, 1, 2])], start=1))
    unmatched = received_doc(4)
    review, _ = commit(engine, inbound([_reversal(unmatched, [0, 1])], start=2))
    assert (flagged.applied, flagged.transitions, review.applied, review.transitions) == (1, 1, 1, 0)
    with engine.connect() as conn:
        history = store.history(conn, received_id(doc))
        assert [e["trigger"] for e in history][-1] == "note_reversal"
        assert history[-1]["from_state"] == history[-1]["to_state"] == "assigned"
        items = conn.execute(select(store.REVIEWS)).all()
        assert [(i.kind, i.claim_control_number) for i in items] == [("reversal_unmatched", "CCN000004")]
        denial = store.get_denial(conn, received_id(doc))
        assert replay(denial, history).ok


def test_open_work_per_owner_follows_assignment_and_closing(engine: Engine) -> None:
    docs = [received_doc(10 + i, adjustments=[("CO", "16", "90.00")]) for i in range(7)]
    commit(engine, inbound(docs))
    with engine.connect() as conn:
        load = store.open_work(conn)
        owners = store.count_by(conn, "owner")
    assert sum(load.values()) == 7 and load == owners
    assert max(load.values()) - min(load.values()) <= 1  # billing's three owners share the work
    # a reassignment moves one item of open work between owners
    first = received_id(docs[0])
    with engine.connect() as conn:
        old = store.get_denial(conn, first).owner
    commit(engine, inbound([event_doc("denial.reassigned", first, ("lena.lead", "lead"),
                                      {"owner": "new.person", "reason": "cover"})], start=7))  # fmt: skip
    with engine.connect() as conn:
        after = store.open_work(conn)
    assert after["new.person"] == 1 and after[old] == load[old] - 1


def test_triage_ranks_within_each_payer_by_value_with_near_deadlines_first(engine: Engine) -> None:
    # 75 Aetna coding denials of rising value, one Aetna denial with its resubmission deadline near,
    # and one other payer's small denial; remit dates keep the appeal deadlines far away
    docs = [received_doc(100 + i, adjustments=[("CO", "4", f"{50 + i * 30}.00")], date_of_service="2026-09-10",
                         remit_date="2026-09-30") for i in range(75)]  # fmt: skip
    near = received_doc(300, adjustments=[("CO", "4", "60.00")], date_of_service="2026-07-10",
                        remit_date="2026-07-15")  # fmt: skip
    other = received_doc(301, adjustments=[("CO", "4", "40.00")], payer_id="UHC")
    commit(engine, inbound([*docs, near, other]))
    today = date(2026, 10, 5)  # Aetna's 90-day corrected-claim window from the 07-15 remit ends 10-13: near
    with engine.connect() as conn:
        items = queries.triage(conn, today, near_days=30)
        only_uhc = queries.triage(conn, today, near_days=30, payer="UHC")
    aetna = [i for i in items if i.payer_id == "AETNA"]
    assert [i.rank for i in aetna] == list(range(1, 77))
    assert aetna[0].id == received_id(near) and aetna[0].deadline_near
    assert [i.denied_cents for i in aetna[1:]] == sorted((i.denied_cents for i in aetna[1:]), reverse=True)
    tiers = [i.tier for i in aetna]
    assert tiers[:20] == ["top 20"] * 20 and tiers[20:70] == ["next 50"] * 50
    # what is left: $50-$200 items: the sub-$100 ones are the weekly batch
    assert {(i.denied_cents < 10_000, i.tier) for i in aetna[70:]} <= {(True, "weekly batch"), (False, "queue")}
    assert [(i.payer_id, i.rank, i.tier) for i in only_uhc] == [("UHC", 1, "top 20")]


def test_the_middle_layer_is_visible_below_the_top_seventy(engine: Engine) -> None:
    docs = [received_doc(400 + i, adjustments=[("CO", "4", f"{2000 + i}.00")]) for i in range(70)]
    middle = received_doc(480, adjustments=[("CO", "4", "600.00")])
    commit(engine, inbound([*docs, middle]))
    with engine.connect() as conn:
        items = queries.triage(conn, date(2026, 1, 1), near_days=0)
    assert (items[-1].id, items[-1].tier) == (received_id(middle), "middle layer")
