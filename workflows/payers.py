"""Per-payer deadlines, per kind, each counted from its own basis date, from a TOML file.

DOMAIN.md: the timely-filing limit counts from the date of service and matters only for a
claim never filed in time; the corrected-claim (resubmission) window and the appeal levels
usually count from the denial (the remit date); the retro-authorization window from the
date of service. Which basis each kind uses is configurable per payer. The deadlines are
computed once, on receipt, and recorded with their kind, basis and basis date in the audit
log with the classification, so a later edit of the file does not rewrite an old denial;
a payer without a profile is dated by ``[default]`` and recorded as such.
"""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

KINDS = ("timely_filing", "corrected_claim", "appeal", "retro_auth")
BASES = ("date_of_service", "remit_date", "submission_date")
#: Appeal levels after the first count from the payer's decision on the level before.
PREVIOUS_DECISION = "previous_decision"
#: The basis each kind counts from when the file does not say.
DEFAULT_BASIS = {"timely_filing": "date_of_service", "corrected_claim": "remit_date", "appeal": "remit_date",
                 "retro_auth": "date_of_service"}  # fmt: skip
#: The original submission date is not on an 835: a deadline counted from it is counted from
#: the date of service instead (the earliest the submission can have been, so the deadline is
#: never later than the payer's) and the record says so.
FALLBACK = {"submission_date": "date_of_service"}
KNOWN = "known"
UNKNOWN = "unknown (defaults used)"


class PayerFileError(ValueError):
    """The payer file is malformed: named key, what is wrong."""


@dataclass(frozen=True, slots=True)
class Limit:
    days: int
    basis: str

    def as_dict(self) -> dict[str, Any]:
        return {"days": self.days, "basis": self.basis}

    def __str__(self) -> str:
        return f"{self.days} d from {self.basis.replace('_', ' ')}"


@dataclass(frozen=True, slots=True)
class PayerProfile:
    """One payer's limits; ``appeal`` holds one limit per level, level 1 first. ``inherited``
    names the kinds the payer's table left to ``[default]``."""

    timely_filing: Limit
    corrected_claim: Limit
    appeal: tuple[Limit, ...]
    retro_auth: Limit
    inherited: frozenset[str] = frozenset()
    capitated: bool = False  # the practice is paid per member by this payer: CO-24 is expected, not a denial

    def as_dict(self) -> dict[str, Any]:
        """Each kind's days and basis (appeal: a list, level 1 first); ``from_default`` names inherited kinds."""
        out: dict[str, Any] = {k: getattr(self, k).as_dict() for k in KINDS if k != "appeal"}
        out["appeal"] = [level.as_dict() for level in self.appeal]
        return out | {"from_default": sorted(self.inherited), "capitated": self.capitated}


@dataclass(frozen=True, slots=True)
class DeadlineSet:
    """The deadlines dated on receipt: the date per denial column (``filing``, ``appeal``,
    ``retro_auth``) and what the classification records about them."""

    dates: dict[str, date]
    recorded: dict[str, Any]
    profile_known: bool

    @classmethod
    def from_recorded(cls, payload: Mapping[str, Any]) -> "DeadlineSet":
        """From a `classify` audit payload: the current form (a dict per deadline) or the one
        before it (name -> ISO date, no payer profile), recorded fields repeated verbatim."""
        deadlines = payload.get("deadlines", {})
        recorded: dict[str, Any] = {"deadlines": deadlines}
        if "payer_profile" in payload:
            recorded["payer_profile"] = payload["payer_profile"]
        dates = {name: date.fromisoformat(v if isinstance(v, str) else v["date"]) for name, v in deadlines.items()}
        return cls(dates, recorded, payload.get("payer_profile", KNOWN) == KNOWN)


def applicable(category: str) -> list[tuple[str, str]]:
    """(denial column, kind) for a denial of ``category``. The ``filing`` column is the
    deadline to resubmit: the timely-filing limit when the denial is about timely filing,
    the corrected-claim window otherwise; retro-authorization only for authorization."""
    filing = "timely_filing" if category == "timely_filing" else "corrected_claim"
    kinds = [("filing", filing), ("appeal", "appeal")]
    if category == "authorization":
        kinds.append(("retro_auth", "retro_auth"))
    return kinds


@dataclass(frozen=True, slots=True)
class BasisDates:
    """The dates a deadline can count from; an 835 carries no submission date."""

    date_of_service: date
    remit_date: date
    submission_date: date | None = None

    def start(self, basis: str) -> tuple[date, str]:
        """The date to count from and the basis it really is (the fallback when unknown)."""
        day = getattr(self, basis)
        if day is None:
            basis = FALLBACK[basis]
            day = getattr(self, basis)
        return day, basis


def _dated(kind: str, limit: Limit, basis_dates: BasisDates, received: date, inherited: bool
           ) -> tuple[date, dict[str, Any]]:  # fmt: skip
    start, counted_from = basis_dates.start(limit.basis)
    day = start + timedelta(days=limit.days)
    entry: dict[str, Any] = {"date": day.isoformat(), "kind": "appeal_level_1" if kind == "appeal" else kind,
                             "days": limit.days, "basis": limit.basis, "basis_date": start.isoformat(),
                             "past_at_receipt": day < received}  # fmt: skip
    if counted_from != limit.basis:
        entry["basis_fallback"] = counted_from
    if inherited:
        entry["from_default"] = True
    return day, entry


@dataclass(frozen=True, slots=True)
class PayerPolicies:
    default: PayerProfile
    payers: dict[str, PayerProfile]
    urgent_within_days: int

    @classmethod
    def load(cls, path: Path | None = None) -> "PayerPolicies":
        """Read the payer file (the packaged default when ``path`` is None); refuse a malformed one."""
        text = path.read_text() if path else resources.files("workflows.data").joinpath("payers.toml").read_text()
        doc: dict[str, Any] = tomllib.loads(text)
        unknown = set(doc) - {"urgent_within_days", "default", "payers"}
        if unknown:
            raise PayerFileError(f"unknown top-level key(s) {sorted(unknown)}")
        default = _profile("default", doc.get("default", {}), None)
        payers = {payer: _profile(f'payers."{payer}"', v, default) for payer, v in doc.get("payers", {}).items()}
        return cls(default, payers, int(doc.get("urgent_within_days", 30)))

    @property
    def capitated_payers(self) -> frozenset[str]:
        """Payers the practice is capitated with (their CO-24 is the arrangement, not a denial)."""
        return frozenset(payer for payer, profile in self.payers.items() if profile.capitated)

    def deadlines(self, payer_id: str, category: str, basis_dates: BasisDates, received: date) -> DeadlineSet:
        """The deadlines that apply to a denial of ``category``, each with its kind, basis and
        basis date, and whether it had passed when the denial was received."""
        profile = self.payers.get(payer_id)
        rules = profile or self.default
        dates: dict[str, date] = {}
        entries: dict[str, Any] = {}
        for column, kind in applicable(category):
            limit = rules.appeal[0] if kind == "appeal" else getattr(rules, kind)
            dates[column], entries[column] = _dated(kind, limit, basis_dates, received, kind in rules.inherited)
            if kind == "appeal" and len(rules.appeal) > 1:
                entries[column]["next_levels"] = [{"level": n, "days": lvl.days, "basis": lvl.basis}
                                                  for n, lvl in enumerate(rules.appeal[1:], 2)]  # fmt: skip
        recorded = {"deadlines": entries, "payer_profile": KNOWN if profile else UNKNOWN}
        return DeadlineSet(dates, recorded, profile is not None)


def _limit(where: str, kind: str, value: Any, level: int = 1) -> Limit:
    """One ``{ days = N, basis = "..." }``; appeal levels after the first may count from the decision before."""
    if level > 1:
        where, bases, basis = f"{where}.appeal[{level}]", (PREVIOUS_DECISION, *BASES), PREVIOUS_DECISION
    else:
        where, bases, basis = f"{where}.{kind}", BASES, DEFAULT_BASIS[kind]
    if not isinstance(value, dict) or set(value) - {"days", "basis"} or "days" not in value:
        raise PayerFileError(f'{where}: expected {{ days = N, basis = "..." }}, got {value!r}')
    basis = value.get("basis", basis)
    if basis not in bases:
        raise PayerFileError(f"{where}: basis {basis!r} is not one of {', '.join(bases)}")
    days = value["days"]
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise PayerFileError(f"{where}: days must be a whole number >= 0, got {days!r}")
    return Limit(days, basis)


def _profile(where: str, table: dict[str, Any], default: PayerProfile | None) -> PayerProfile:
    """One ``[default]`` or ``[payers."ID"]`` table; a payer's missing kinds come from the default."""
    unknown = set(table) - {*KINDS, "capitated"}
    if unknown:
        raise PayerFileError(f"{where}: unknown key(s) {sorted(unknown)}; kinds are {', '.join(KINDS)} "
                             "(each { days = N, basis = \"...\" }; appeal is a list, one per level)")  # fmt: skip
    missing = [k for k in KINDS if k not in table]
    if default is None and missing:
        raise PayerFileError(f"{where}: every kind needs a limit; missing {', '.join(missing)}")
    limits: dict[str, Any] = {}
    for kind in KINDS:
        if kind not in table:
            limits[kind] = getattr(default, kind)
        elif kind == "appeal":
            levels = table[kind]
            if not isinstance(levels, list) or not levels:
                raise PayerFileError(f"{where}.appeal: a list of levels, level 1 first, got {levels!r}")
            limits[kind] = tuple(_limit(where, kind, v, n) for n, v in enumerate(levels, 1))
        else:
            limits[kind] = _limit(where, kind, table[kind])
    capitated = table.get("capitated", False)
    if not isinstance(capitated, bool):
        raise PayerFileError(f"{where}.capitated: true or false, got {capitated!r}")
    return PayerProfile(**limits, inherited=frozenset(missing if default is not None else ()), capitated=capitated)
