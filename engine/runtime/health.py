"""The engine's health as `/healthz` and `denialflow status` tell it: each engine process alive or
not (`engine.runtime.heartbeat`), its consumer lag, the outbox's backlog and the parked messages.

**Alive** is a beat within four intervals (`engine.runtime.heartbeat`) that is neither ``stopped`` nor
``died`` (what `denialflow run`'s supervisor writes for a loop that raised, until it beats again).
**Expected processes.** A process is expected to be alive when it beat within the last hour, did
not stop cleanly (state ``stopped``) and was not replaced (a process of its kind started after
its last beat: a restart under a new pid); ``DENIALFLOW_HEALTH_EXPECT`` names kinds that must
have a live process besides, so one that never started is missed too. Healthy means every
expected process is alive. A process dead for more than an hour is still listed, no longer
expected: whoever looked has been told, and a scaled-down or retired process stops counting.

No PHI and no secrets: process names, states, times and counts; of a heartbeat's figures only
numbers are shown.
"""

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from sqlalchemy import Connection, func, select

from engine.clock import as_utc
from engine.config import Settings
from engine.runtime import heartbeat
from engine.runtime.lag import consumer_lag
from engine.runtime.netcheck import broker_admin
from engine.runtime.parked import PARKED
from engine.runtime.supervisor import DIED
from engine.storage.store import OUTBOX

log = structlog.get_logger("denialflow.health")
#: A process that beat within this, and neither stopped cleanly nor was replaced, must be alive.
EXPECTED_WITHIN = timedelta(hours=1)
STOPPED = "stopped"
KINDS = ("worker", "relay", "timers", "remits", "claims")


@dataclass(frozen=True, slots=True)
class Health:
    checked_at: datetime
    processes: list[dict[str, Any]]
    missing: list[str]  # kinds DENIALFLOW_HEALTH_EXPECT names that have no live process
    lag: dict[str, dict[str, Any]] | None  # consumer group -> topic, behind, partitions; None: broker not asked/away
    outbox_pending: int
    outbox_oldest_s: float | None
    parked: int

    @property
    def dead(self) -> list[str]:
        return [p["name"] for p in self.processes if p["expected"] and not p["alive"]]

    @property
    def ok(self) -> bool:
        """Every expected process alive (what `/healthz` answers 200 to)."""
        return not self.dead and not self.missing

    def problems(self) -> list[str]:
        """What is wrong, one phrase each: dead processes, missing kinds, parked messages."""
        found = [f"{name} is dead" for name in self.dead] + [f"no live {kind}" for kind in self.missing]
        if self.parked:
            found.append(f"{self.parked} parked message(s): `denialflow parked`")
        return found

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "unhealthy",
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
            "problems": self.problems(),
            "processes": self.processes,
            "missing": self.missing,
            "consumer_lag": self.lag,
            "outbox": {"pending": self.outbox_pending, "oldest_age_s": self.outbox_oldest_s},
            "parked": self.parked,
        }


def _figures(detail: dict[str, Any]) -> dict[str, Any]:
    """A heartbeat's numbers (and number-valued maps, such as lag per partition); nothing else."""

    def number(value: Any) -> bool:
        return isinstance(value, bool | int | float)

    return {k: v for k, v in detail.items() if number(v) or (isinstance(v, dict) and all(map(number, v.values())))}


def _processes(conn: Connection, now: datetime, lag_by_kind: dict[str, int]) -> list[dict[str, Any]]:
    found = heartbeat.processes(conn, now)
    columns = heartbeat.PROCESSES.c
    started = {r.name: as_utc(r.started_at) for r in conn.execute(select(columns.name, columns.started_at))}
    alive = {p.name: p.alive and p.state != DIED for p in found}
    out = []
    for p in found:
        replaced = any(o.kind == p.kind and alive[o.name] and started[o.name] > p.beat_at for o in found)
        expected = p.state != STOPPED and p.beat_at >= now - EXPECTED_WITHIN and not replaced
        figures = _figures(p.detail)
        lag = figures.get("lag", lag_by_kind.get(p.kind))
        out.append({"name": p.name, "kind": p.kind, "state": p.state, "alive": alive[p.name], "expected": expected,
                    "beat_at": p.beat_at.isoformat(timespec="seconds"),
                    "beat_age_s": round((now - p.beat_at).total_seconds(), 1), "lag": lag,
                    "figures": figures})  # fmt: skip
    return out


def consumer_groups(settings: Settings) -> dict[str, tuple[str, str]]:
    """Process kind -> the consumer group it belongs to and the topic it reads."""
    return {"worker": (settings.group_id, settings.events_topic),
            "remits": (settings.remits_group_id, settings.remits_topic),
            "claims": (settings.claims_group_id, settings.claims_outbound_topic)}  # fmt: skip


class LagReader:
    """Each consumer group's lag from the broker (log end minus committed offset), with one admin
    client kept between reads and dropped when the broker stops answering, so the next read finds
    out in a TCP connect (`engine.runtime.netcheck`) instead of waiting out a request timeout."""

    def __init__(self, bootstrap_servers: str, request_timeout_ms: int = 2000) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.request_timeout_ms = request_timeout_ms
        self._admin: KafkaAdminClient | None = None
        self._lock = threading.Lock()  # one admin client, and web requests on several threads

    def read(self, groups: dict[str, tuple[str, str]]) -> dict[str, dict[str, Any]] | None:
        """Group -> topic, messages behind and per partition; None when the broker does not answer."""
        with self._lock:
            return self._read(groups)

    def _read(self, groups: dict[str, tuple[str, str]]) -> dict[str, dict[str, Any]] | None:
        if self._admin is None:
            self._admin = broker_admin(self.bootstrap_servers, request_timeout_ms=self.request_timeout_ms)
            if self._admin is None:
                return None
        try:
            out = {}
            for group, topic in groups.values():
                behind = consumer_lag(self._admin, group, topic)
                out[group] = {"topic": topic, "behind": sum(behind.values()), "partitions": behind}
            return out
        except (KafkaError, OSError) as exc:
            log.warning("health.lag_unknown", error=type(exc).__name__)
            self.close()
            return None

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


def report(
    conn: Connection, settings: Settings, clock_now: datetime, lag: dict[str, dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> Health:  # fmt: skip
    """The engine's health now. ``clock_now``: the engine's clock, which dates outbox rows; ``lag``:
    what `LagReader.read` found (None: unknown); ``now``: the wall clock heartbeats are written by."""
    now = now or datetime.now(UTC)
    groups = consumer_groups(settings)
    by_kind = {kind: lag[group]["behind"] for kind, (group, _) in groups.items() if lag and group in lag}
    processes = _processes(conn, now, by_kind)
    wanted = [k for k in settings.health_expect.split(",") if k]
    missing = [k for k in wanted if not any(p["kind"] == k and p["alive"] for p in processes)]
    pending, oldest = conn.execute(select(func.count(), func.min(OUTBOX.c.created_at)).select_from(OUTBOX)).one()
    oldest_s = round((clock_now - as_utc(oldest)).total_seconds(), 1) if oldest is not None else None
    parked = conn.scalar(select(func.count()).select_from(PARKED)) or 0
    return Health(now, processes, missing, lag, int(pending), oldest_s, int(parked))
