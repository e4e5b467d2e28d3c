"""Authorization and outgoing-claim events inside one batch: records, updates, dated alerts,
pre-submission checks, released holds.

The batch loads the authorizations, alerts, timers and claim checks its events touch;
each event changes them in memory (so later events in the batch see it) and collects the
rows, audit entries and messages to write. An authorization change recomputes its status
and alerts on the engine's clock (`workflows.auth_lifecycle`) and reschedules its dated
alerts in the same transaction; units are counted from the claims checked against it, a
replacement claim's earlier count given back first and a void's given back whole. An
authorization recorded after an authorization denial of the same patient publishes a
`denial.auth_rechecked` for that denial, applied on the denial's own partition.
"""

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection

from engine.audit.chain import entry_hash
from engine.errors import Rejected
from engine.intake.claim_identity import authorization_id_for, claim_id_for, patient_key
from engine.intake.records import Inbound
from engine.runtime.messages import Message
from engine.runtime.prevention_messages import checked_message, feed_message
from engine.runtime.timer_rows import reschedule, stale
from engine.storage import prevention_store as ps
from engine.storage import store
from workflows import guards
from workflows.auth_lifecycle import alert_detail, alert_timers, conditions, status_of
from workflows.auth_rules import AuthRules
from workflows.authorization import AuthRecord, ClaimLine, check_authorization
from workflows.presubmission import CLEAR, HOLD, VOID, Line, check_claim, usage_change

log = structlog.get_logger("denialflow.prevention")
WORKER_ACTOR = "denialflow-worker"
#: Verdicts whose units count against the authorizations.
COUNTING = frozenset({CLEAR, "released"})
#: A dated alert whose moment a change had already dealt with: recorded as processed, no entry.
NO_CHANGE = "alert.no_change"
_AUTH_EVENTS = ("authorization.recorded", "authorization.updated")


def _members(event: Any) -> tuple[str, str] | None:
    data = event.data
    if event.type in _AUTH_EVENTS:
        return data.payer_id, data.member_id
    if event.type in ("claim.submitted", "claim.released") and data.member_id:
        return data.payer_id, data.member_id
    return None


def _codes(row: SimpleNamespace) -> list[str]:
    return row.procedure_codes.split(",")


class PreventionBatch:
    """One batch's view of the prevention side; `Processor` routes the events here."""

    def __init__(
        self,
        conn: Connection,
        events: Iterable[Any],
        patients: Iterable[tuple[str, str]],
        rules: AuthRules,
        topics: Any,
        write: store.BatchWrite,
        context_records: dict[tuple[str, str], list[AuthRecord]],
    ) -> None:
        events = list(events)
        self.rules, self.topics, self.write = rules, topics, write
        self.records = context_records  # the receipt checklist's view, kept in step
        pairs = {p for e in events if (p := _members(e))} | set(patients)
        auth_ids = {e.data.authorization_id for e in events if e.type == "authorization.alert_fired"}
        auth_ids |= {authorization_id_for(e.data.payer_id, e.data.reference) for e in events if e.type in _AUTH_EVENTS}
        self.rows = ps.load_authorizations(conn, pairs, auth_ids)
        self.alerts = ps.load_open_alerts(conn, list(self.rows))
        self.timers = store.load_timers(conn, list(self.rows) + list(auth_ids)) if self.rows or auth_ids else {}
        claims = {
            claim_id_for(e.data.payer_id, e.data.patient_control_number) for e in events if e.type == "claim.submitted"
        } | {e.data.claim_id for e in events if e.type == "claim.released"}
        self.claims = ps.load_claim_checks(conn, claims)
        recorded = [e for e in events if e.type == "authorization.recorded"]
        self.auth_denials = ps.open_authorization_denials(conn, {e.data.payer_id for e in recorded})
        for row in self.rows.values():
            self._index(row)

    # -- the receipt checklist's records, by patient

    def _index(self, row: SimpleNamespace) -> None:
        known = self.records.setdefault((row.payer_id, row.member_id), [])
        known[:] = [r for r in known if r.reference != row.reference] + [AuthRecord.from_row(row)]

    def _patient_rows(self, payer_id: str, member_id: str | None) -> list[SimpleNamespace]:
        return [r for r in self.rows.values() if r.payer_id == payer_id and r.member_id == member_id]

    # -- events

    def apply(self, msg: Inbound, event: Any, now: datetime) -> str:
        """Apply one authorization or claim event; return its outcome or raise `Rejected`."""
        guards.check_actor(event, None)
        if event.type == "authorization.recorded":
            self._recorded(msg, event, now)
        elif event.type == "authorization.updated":
            self._updated(msg, event, now)
        elif event.type == "authorization.alert_fired":
            return self._alert_fired(msg, event, now)
        elif event.type == "claim.submitted":
            self._submitted(msg, event, now)
        else:
            self._released(msg, event, now)
        return "applied"

    def _recorded(self, msg: Inbound, event: Any, now: datetime) -> None:
        data = event.data
        auth_id = authorization_id_for(data.payer_id, data.reference)
        before = self.rows.get(auth_id)
        if before is not None and before.member_id != data.member_id:
            raise Rejected(
                "authorization.member_mismatch",
                f"authorization {data.reference} is on file for another member",
                "data.member_id",
            )
        fields = data.model_dump()
        fields["procedure_codes"] = ",".join(fields["procedure_codes"])
        row = SimpleNamespace(
            **{
                "units_claimed": 0,
                "status": "active",
                "superseded_by": None,
                "audit_seq": 0,
                "audit_head": None,
                **(vars(before) if before else {}),
                **fields,
                "authorization_id": auth_id,
                "recorded_at": now,
            }
        )
        self.rows[auth_id] = row
        reason = "recorded" if before is None else "amended"
        if data.supersedes:
            old = next(
                (r for r in self._patient_rows(data.payer_id, data.member_id) if r.reference == data.supersedes), None
            )
            if old is None:
                reason += f"; supersedes {data.supersedes}, which is not on file for this patient"
            else:
                old.status, old.superseded_by = "superseded", data.reference
                self._settle(old, msg, event, now, "supersede", f"superseded by {data.reference}", {})
        payload = event.data.model_dump(mode="json")
        self._settle(
            row,
            msg,
            event,
            now,
            "record" if before is None else "amend",
            reason,
            payload,
            before.status if before else None,
        )
        self._recheck_denials(row, event, now)

    def _updated(self, msg: Inbound, event: Any, now: datetime) -> None:
        data = event.data
        row = self.rows.get(authorization_id_for(data.payer_id, data.reference))
        if row is None or row.member_id != data.member_id:
            raise Rejected(
                "authorization.unknown",
                f"no authorization {data.reference} at {data.payer_id} for this "
                "member: record it first (authorization.recorded)",
                "data.reference",
            )
        changes = data.changes()
        if "procedure_codes" in changes:
            changes["procedure_codes"] = ",".join(changes["procedure_codes"])  # type: ignore[arg-type]
        valid_from, valid_to = changes.get("valid_from", row.valid_from), changes.get("valid_to", row.valid_to)
        if valid_to < valid_from:  # type: ignore[operator]
            raise Rejected("authorization.window", "valid_to would be before valid_from", "data.valid_to")
        figures = ", ".join(f"{k} {getattr(row, k)} -> {v}" for k, v in changes.items())
        for name, value in changes.items():
            setattr(row, name, value)
        self._settle(row, msg, event, now, "update", f"{figures}: {data.reason}", event.data.model_dump(mode="json"))

    def _alert_fired(self, msg: Inbound, event: Any, now: datetime) -> str:
        data = event.data
        rows = self.timers.get(data.authorization_id, {})
        if stale(rows, data.rule, data.generation) or data.authorization_id not in self.rows:
            return "timer.stale"
        rows[data.rule].fired_at = now
        row = self.rows[data.authorization_id]
        today = max(now, data.due_at).date()
        record = AuthRecord.from_row(row)
        held = conditions(record, today, self.rules.of(row.payer_id))
        if status_of(record, held) == row.status and held == self._open_conditions(row.authorization_id):
            return NO_CHANGE  # a change since already raised what this moment was set for
        self._settle(row, msg, event, now, "alert", data.rule, event.data.model_dump(mode="json"), today=today)
        return "applied"

    def _submitted(self, msg: Inbound, event: Any, now: datetime) -> None:
        d = event.data
        claim_id = claim_id_for(d.payer_id, d.patient_control_number)
        prev = self.claims.get(claim_id)
        counted_before = dict(prev.usage) if prev is not None and prev.verdict in COUNTING else {}
        rows = self._patient_rows(d.payer_id, d.member_id) if d.member_id else []
        records = [
            replace(AuthRecord.from_row(r), units_claimed=r.units_claimed - counted_before.get(r.reference, 0))
            for r in rows
        ]
        if d.frequency == "8":
            result: dict[str, Any] = {"verdict": VOID, "sub_causes": [], "lines": [], "usage": {}}
        else:
            places = tuple(p for p in (d.service_facility_npi, d.billing_name, d.billing_npi, d.place_of_service) if p)
            lines = [
                Line(
                    n.line,
                    ClaimLine(
                        n.procedure_code,
                        n.rendering_npi or d.rendering_npi or d.billing_npi,
                        d.service_facility_name or d.billing_name,
                        n.date_of_service,
                        n.units,
                        places,
                    ),
                    n.prior_authorization,
                    n.referral,
                )
                for n in d.lines
            ]
            result = check_claim(lines, d.prior_authorization, d.referral, records, self.rules.of(d.payer_id))
        verdict = result["verdict"]
        counted_now = result["usage"] if verdict == CLEAR else {}
        what = {"8": "void", "7": "replacement"}.get(
            d.frequency or "", "submission" if prev is None else "resubmission"
        )
        self._count(rows, usage_change(counted_before, counted_now), msg, event, now, f"claim {claim_id} {what}")
        release = prev.release if prev is not None else None
        if prev is not None and prev.verdict == HOLD and verdict == CLEAR:
            release = "fixed"
        self._save_claim(
            claim_id,
            event,
            now,
            prev,
            verdict=verdict,
            result=result,
            usage=counted_now,
            release=release,
            was_held=(prev is not None and prev.was_held) or verdict == HOLD,
        )

    def _released(self, msg: Inbound, event: Any, now: datetime) -> None:
        d = event.data
        prev = self.claims.get(d.claim_id)
        if prev is None or prev.verdict != HOLD:
            state = prev.verdict if prev is not None else "not checked"
            raise Rejected(
                "claim.not_held", f"claim {d.claim_id} is {state}: only a held claim is released", "data.claim_id"
            )
        member = (prev.patient or {}).get("member_id")
        rows = self._patient_rows(prev.payer_id, member) if member else []
        usage = prev.result.get("usage", {})
        self._count(rows, usage_change({}, usage), msg, event, now, f"claim {d.claim_id} released as held")
        self._save_claim(
            d.claim_id,
            event,
            now,
            prev,
            verdict="released",
            result=prev.result,
            usage=usage,
            release="submitted_anyway",
            was_held=True,
            released_by=event.actor,
            release_reason=d.reason,
        )

    # -- shared steps

    def _count(
        self, rows: list[SimpleNamespace], change: dict[str, int], msg: Inbound, event: Any, now: datetime, why: str
    ) -> None:
        by_ref = {r.reference: r for r in rows}
        for reference, delta in change.items():
            row = by_ref.get(reference)
            if row is None:
                continue  # the record was recorded for another member since: nothing of it is counted here
            row.units_claimed = max(row.units_claimed + delta, 0)
            payload = {"units": delta, "units_claimed": row.units_claimed}
            self._settle(row, msg, event, now, "count_units", f"{why}: {delta:+d} units", payload)

    def _save_claim(
        self, claim_id: str, event: Any, now: datetime, prev: SimpleNamespace | None, **changes: Any
    ) -> None:
        if event.type == "claim.submitted":
            d = event.data
            base = {
                "claim_id": claim_id,
                "payer_id": d.payer_id,
                "patient_control_number": d.patient_control_number,
                "kind": d.kind,
                "frequency": d.frequency,
                "patient": d.patient.model_dump(mode="json") if d.patient else None,
                "submissions": prev.submissions + 1 if prev is not None else 1,
                "first_checked_at": prev.first_checked_at if prev is not None else now,
                "released_by": None,
                "release_reason": None,
            }
        else:
            base = vars(prev)  # type: ignore[arg-type]
        causes = changes["result"]["sub_causes"]  # a hold's causes are kept once it is fixed or released
        earlier = prev.sub_causes if prev is not None and changes["was_held"] else ""
        kept = ",".join(causes)[:400] if causes else earlier
        row = SimpleNamespace(**{**base, **changes, "sub_causes": kept, "event_id": event.event_id, "checked_at": now})
        self.claims[claim_id] = row
        self.write.prevention.claim_checks[claim_id] = vars(row)
        self.write.outbox.append(Message(self.topics.claims_checked, claim_id.encode(), checked_message(row)))

    def _settle(
        self,
        row: SimpleNamespace,
        msg: Inbound,
        event: Any,
        now: datetime,
        trigger: str,
        reason: str,
        payload: dict[str, Any],
        before: str | None = "",
        today: Any = None,
    ) -> None:
        """After a change to ``row``: its status and alerts on the engine's clock, its dated
        alerts rescheduled, one audit entry and one change-feed message."""
        from_state = row.status if before == "" else before
        rules = self.rules.of(row.payer_id)
        record = AuthRecord.from_row(row)
        held = conditions(record, today or now.date(), rules)
        row.status = status_of(record, held)
        raised, resolved = self._alerts(row, replace(record, status=row.status), held, event, now)
        key = patient_key(row.payer_id, row.member_id)
        wanted = {rule: (due, {**detail, "key": key}) for rule, (due, detail) in alert_timers(record, rules).items()}
        reschedule(self.write, self.timers.setdefault(row.authorization_id, {}), row.authorization_id, wanted)
        row.updated_at = now
        entry = {
            "authorization_id": row.authorization_id,
            "seq": row.audit_seq + 1,
            "event_id": event.event_id,
            "event_type": event.type,
            "trigger": trigger,
            "from_state": from_state,
            "to_state": row.status,
            "actor": event.actor,
            "role": event.role.value,
            "occurred_at": event.occurred_at,
            "recorded_at": now,
            "reason": reason,
            "payload": {**payload, "alerts_raised": raised, "alerts_resolved": resolved},
            "source_topic": msg.topic,
            "source_partition": msg.partition,
            "source_offset": msg.offset,
            "prev_hash": row.audit_head,
        }
        entry["hash"] = entry_hash(entry, "authorization_id")
        row.audit_seq, row.audit_head = entry["seq"], entry["hash"]
        self.write.prevention.entries.append(entry)
        self.write.prevention.authorizations[row.authorization_id] = vars(row)
        self.write.outbox.append(
            Message(self.topics.authorizations, row.authorization_id.encode(), feed_message(row, entry, raised))
        )
        self._index(row)

    def _alerts(
        self, row: SimpleNamespace, record: AuthRecord, held: set[str], event: Any, now: datetime
    ) -> tuple[list[str], list[str]]:
        """Raise an alert for each condition that started to hold, resolve those that stopped."""
        auth_id = row.authorization_id
        rules = self.rules.of(row.payer_id)
        open_now = self._open_conditions(auth_id)
        raised = sorted(held - open_now)
        resolved = sorted(open_now - held)
        for condition in raised:
            self.write.prevention.new_alerts[(auth_id, condition)] = {
                "authorization_id": auth_id,
                "payer_id": row.payer_id,
                "reference": row.reference,
                "condition": condition,
                "raised_at": now,
                "resolved_at": None,
                "event_id": event.event_id,
                "detail": alert_detail(record, condition, rules),
            }
            log.info("authorization.alert", authorization_id=auth_id, condition=condition, payer_id=row.payer_id)
        for condition in resolved:
            stored = self.alerts.pop((auth_id, condition), None)
            if stored is not None:
                self.write.prevention.resolved_alerts[stored.id] = now
            else:
                self.write.prevention.new_alerts.pop((auth_id, condition), None)
        return raised, resolved

    def _open_conditions(self, auth_id: str) -> set[str]:
        stored = {c for (a, c) in self.alerts if a == auth_id}
        return stored | {c for (a, c) in self.write.prevention.new_alerts if a == auth_id}

    def _recheck_denials(self, row: SimpleNamespace, event: Any, now: datetime) -> None:
        """An authorization recorded after an authorization denial of the same patient and
        service: the checklist again, sent to the denial as an event when its answer changed."""
        codes = set(_codes(row))
        records = self.records.get((row.payer_id, row.member_id), [])
        for denial in self.auth_denials:
            if (
                denial.payer_id != row.payer_id
                or (denial.patient or {}).get("member_id") != row.member_id
                or denial.procedure_code not in codes
            ):
                continue
            line = ClaimLine(denial.procedure_code, denial.rendering_npi, denial.site, denial.date_of_service, None)
            check = check_authorization(line, records)
            if check == denial.auth_check:
                continue
            denial.auth_check = check
            doc = {
                "event_id": f"recheck-{denial.id}-{row.authorization_id}-{row.audit_seq}",
                "type": "denial.auth_rechecked",
                "denial_id": denial.id,
                "occurred_at": now.isoformat(),
                "actor": WORKER_ACTOR,
                "role": "system",
                "data": {"reference": row.reference, "check": check},
            }
            self.write.outbox.append(Message(self.topics.events, denial.id.encode(), orjson.dumps(doc)))
