"""Per-payer deadlines (timely filing, appeal, retro-authorization) from a TOML file.

DOMAIN.md: the deadlines that move priority are per payer and configurable. They
are computed once, on receipt, and recorded in the audit log with the
classification, so a later edit of the file does not rewrite an old denial.
"""

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class PayerDeadlines:
    timely_filing_days: int
    appeal_days: int
    retro_auth_days: int


@dataclass(frozen=True, slots=True)
class PayerPolicies:
    default: PayerDeadlines
    payers: dict[str, PayerDeadlines]
    urgent_within_days: int

    @classmethod
    def load(cls, path: Path | None = None) -> "PayerPolicies":
        """Read the payer file (the packaged default when ``path`` is None)."""
        text = path.read_text() if path else resources.files("workflows.data").joinpath("payers.toml").read_text()
        doc: dict[str, Any] = tomllib.loads(text)
        return cls(
            _deadlines(doc["default"]),
            {payer: _deadlines(v) for payer, v in doc.get("payers", {}).items()},
            int(doc.get("urgent_within_days", 30)),
        )

    def deadlines(self, payer_id: str, date_of_service: date, remit_date: date, category: str) -> dict[str, str]:
        """The dates by which the practice must act; retro-authorization only for authorization denials."""
        rules = self.payers.get(payer_id, self.default)
        out = {
            "filing": date_of_service + timedelta(days=rules.timely_filing_days),
            "appeal": remit_date + timedelta(days=rules.appeal_days),
        }
        if category == "authorization":
            out["retro_auth"] = date_of_service + timedelta(days=rules.retro_auth_days)
        return {name: day.isoformat() for name, day in out.items()}


def _deadlines(value: dict[str, Any]) -> PayerDeadlines:
    return PayerDeadlines(int(value["timely_filing_days"]), int(value["appeal_days"]), int(value["retro_auth_days"]))
