"""Route a classified denial to a team and a named owner, from a TOML table.

A new denial goes to the team's named owner with the least open work; ties go
round the owners from a stable hash of the denial id, so equal queues still
spread evenly. Replays do not re-route: they read the decision from the log.
"""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Route:
    team: str
    owners: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Routing:
    defaults: dict[str, Route]
    overrides: dict[tuple[str, str], Route]
    first_action_days: int

    @classmethod
    def load(cls, path: Path | None = None) -> "Routing":
        """Read the routing file (the packaged default when ``path`` is None)."""
        text = path.read_text() if path else resources.files("workflows.data").joinpath("routing.toml").read_text()
        doc: dict[str, Any] = tomllib.loads(text)
        defaults = {cat: _route(v) for cat, v in doc.get("teams", {}).items()}
        overrides = {
            (payer, cat): _route(v) for payer, cats in doc.get("payers", {}).items() for cat, v in cats.items()
        }
        return cls(defaults, overrides, int(doc.get("first_action_days", 7)))

    def route(
        self, payer_id: str, category: str, denial_id: str, open_work: Mapping[str, int]
    ) -> tuple[str, str | None]:
        """(team, owner) for a denial; owner is None when the team has nobody named."""
        route = self.overrides.get((payer_id, category)) or self.defaults.get(category)
        if route is None:
            return category, None
        if not route.owners:
            return route.team, None
        n = len(route.owners)
        start = int(denial_id[:8], 16) % n
        order = {owner: (i - start) % n for i, owner in enumerate(route.owners)}
        return route.team, min(route.owners, key=lambda o: (open_work.get(o, 0), order[o]))

    def teams(self) -> set[str]:
        """Every team the file routes to."""
        return {r.team for r in (*self.defaults.values(), *self.overrides.values())}

    def owners(self) -> set[str]:
        """Every named owner in the file."""
        return {o for r in (*self.defaults.values(), *self.overrides.values()) for o in r.owners}


def _route(value: dict[str, Any]) -> Route:
    return Route(str(value["team"]), tuple(str(o) for o in value.get("owners", ())))
