"""Keep `denialflow run`'s engine loops alive: a loop whose thread dies is built afresh and started
again, or, when it keeps dying, the run is ended so that it never lingers half-alive.

A loop that raised may be left in any state (a closed consumer, a half-sent batch), so a restart
builds a new one; the commit order makes the redone work harmless (redelivered records are found
in `processed_events`, an outbox row is sent again). Restarts wait a capped, doubling backoff.
"""

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from sqlalchemy import Engine

from engine.runtime.heartbeat import Heartbeat

log = structlog.get_logger("denialflow.supervisor")
#: The heartbeat state of a loop that died, until its restart beats again (`engine.runtime.health`: not alive).
DIED = "died"


class Loop(Protocol):
    """The worker, the relay and the timer service: run until stopped."""

    engine: Engine

    def run(self) -> None: ...

    def stop(self, *_: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """At most ``restarts`` restarts within ``window_s``; the n-th death in the window waits
    ``first_s * 2**(n-1)``, at most ``cap_s``, before the restart."""

    restarts: int = 5
    window_s: float = 300.0
    first_s: float = 0.5
    cap_s: float = 30.0

    def backoff(self, deaths: int) -> float:
        return min(self.first_s * 2 ** (deaths - 1), self.cap_s)


RESTARTS = RestartPolicy()


def close(loop: Any) -> None:
    """Release what a loop holds (its consumer closes itself when its run ends)."""
    producer = getattr(loop, "producer", None)
    if producer is not None:
        producer.close()
    loop.engine.dispose()


class Supervised:
    """One loop on its own thread (``name``: its kind, as its heartbeat names it). ``on_give_up``
    is called (from that thread) when it died more often than the policy allows; ``gave_up`` then
    names why."""

    def __init__(
        self,
        name: str,
        build: Callable[[], Loop],
        on_give_up: Callable[[], None],
        policy: RestartPolicy = RESTARTS,
    ) -> None:
        self.name = name
        self.policy = policy
        self.gave_up: str | None = None
        self.restarts = 0
        self._build = build
        self._on_give_up = on_give_up
        self._stopping = threading.Event()
        self._loop: Loop | None = None
        self._thread = threading.Thread(target=self._supervise, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the loop to finish what it holds and return; no restart follows."""
        self._stopping.set()
        if self._loop is not None:
            self._loop.stop()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _supervise(self) -> None:
        deaths: deque[float] = deque()
        while not self._stopping.is_set():
            why = self._run_once()
            if why is None:
                return
            now = time.monotonic()
            deaths.append(now)
            while deaths and deaths[0] < now - self.policy.window_s:
                deaths.popleft()
            if len(deaths) > self.policy.restarts:
                self.gave_up = why
                log.error("process.gave_up", process=self.name, error=why, deaths=len(deaths),
                          window_s=self.policy.window_s)  # fmt: skip
                self._on_give_up()
                return
            wait = self.policy.backoff(len(deaths))
            log.error("process.died", process=self.name, error=why, restart_in_s=wait)
            if self._stopping.wait(wait):
                return
            self.restarts += 1
            log.warning("process.restarted", process=self.name, restarts=self.restarts)

    def _run_once(self) -> str | None:
        """Build and run the loop; None when it ended because it was asked to, else why it died."""
        try:
            loop = self._loop = self._build()
        except Exception as exc:  # e.g. the database or the broker unreachable while building
            return f"{type(exc).__name__} while starting"
        why = None
        try:
            if self._stopping.is_set():  # a stop that came while building
                return None
            loop.run()
            if not self._stopping.is_set():
                why = "the loop returned without being stopped"
        except Exception as exc:
            why = type(exc).__name__
        finally:
            self._loop = None
            if why is not None:  # the loop's own last beat may say "stopped": it did not stop, it died
                Heartbeat(loop.engine, self.name).beat(DIED, error=why)
            close(loop)
        return why
