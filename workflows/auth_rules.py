"""Payer rules for authorizations as data: which services need prior authorization or a
referral, and when to warn that an authorization runs out (``data/authorization_rules.toml``).

Pure: parsed once on start; a malformed file is refused with the key that is wrong.
"""

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

AUTH_TYPES = ("prior", "concurrent", "retrospective", "referral", "step_therapy")
ALL_SERVICES = "*"
_KEYS = {"prior_auth", "referral", "expiry_alert_days", "units_alert_at"}


class AuthRulesError(ValueError):
    """The rules file cannot be used; the message names the key."""


@dataclass(frozen=True, slots=True)
class PayerAuthRules:
    prior_auth: frozenset[str]
    referral: bool
    expiry_alert_days: dict[str, int]  # by authorization type; "default" for the rest
    units_alert_at: int

    def needs_prior_auth(self, procedure_code: str | None) -> bool:
        return ALL_SERVICES in self.prior_auth or (procedure_code is not None and procedure_code in self.prior_auth)

    def alert_days(self, auth_type: str) -> int:
        return self.expiry_alert_days.get(auth_type, self.expiry_alert_days["default"])


@dataclass(frozen=True, slots=True)
class AuthRules:
    default: PayerAuthRules
    payers: dict[str, PayerAuthRules]

    def of(self, payer_id: str) -> PayerAuthRules:
        return self.payers.get(payer_id, self.default)

    @classmethod
    def load(cls, path: Path | None = None) -> "AuthRules":
        """Read the rules (the packaged file when ``path`` is None); refuse a malformed one."""
        src = resources.files("workflows.data").joinpath("authorization_rules.toml")
        text = path.read_text() if path else src.read_text()
        try:
            doc: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AuthRulesError(f"not TOML: {exc}") from None
        if unknown := set(doc) - {"default", "payers"}:
            raise AuthRulesError(f"unknown top-level key(s) {sorted(unknown)}")
        default = _rules("default", doc.get("default", {}), None)
        payers = doc.get("payers", {})
        if not isinstance(payers, dict):
            raise AuthRulesError("payers: a table of payer tables")
        return cls(default, {payer: _rules(f'payers."{payer}"', t, default) for payer, t in payers.items()})


def _count(where: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 3650:
        raise AuthRulesError(f"{where}: a whole number from 0 to 3650, got {value!r}")
    return value


def _rules(where: str, table: Any, default: PayerAuthRules | None) -> PayerAuthRules:
    if not isinstance(table, dict):
        raise AuthRulesError(f"{where}: a table, got {table!r}")
    if unknown := set(table) - _KEYS:
        raise AuthRulesError(f"{where}: unknown key(s) {sorted(unknown)}; keys are {', '.join(sorted(_KEYS))}")
    if default is None and (missing := _KEYS - set(table)):
        raise AuthRulesError(f"{where}: every key needs a value; missing {', '.join(sorted(missing))}")
    codes = table.get("prior_auth")
    if codes is not None and (not isinstance(codes, list) or not all(isinstance(c, str) and c for c in codes)):
        raise AuthRulesError(f'{where}.prior_auth: a list of CPT/HCPCS codes (or "*"), got {codes!r}')
    referral = table.get("referral", default.referral if default else False)
    if not isinstance(referral, bool):
        raise AuthRulesError(f"{where}.referral: true or false, got {referral!r}")
    days = table.get("expiry_alert_days")
    base = dict(default.expiry_alert_days) if default else {}
    if days is None:
        alert_days = base
    elif not isinstance(days, dict) or (default is None and "default" not in days):
        raise AuthRulesError(f"{where}.expiry_alert_days: a table by authorization type with `default`, got {days!r}")
    elif unknown := set(days) - {"default", *AUTH_TYPES}:
        raise AuthRulesError(f"{where}.expiry_alert_days: unknown type(s) {sorted(unknown)}")
    else:
        alert_days = base | {k: _count(f"{where}.expiry_alert_days.{k}", v) for k, v in days.items()}
    units = table.get("units_alert_at")
    return PayerAuthRules(
        frozenset(c.strip() for c in codes) if codes is not None else default.prior_auth,  # type: ignore[union-attr]
        referral,
        alert_days,
        _count(f"{where}.units_alert_at", units) if units is not None else default.units_alert_at,  # type: ignore[union-attr]
    )
