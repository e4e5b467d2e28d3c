"""Waiting out the database or the broker being away, instead of exiting.

An engine loop (worker, relay, timer service, remits consumer) that meets one of these
errors keeps what it holds, beats its heartbeat as waiting, tries again after a capped
exponential delay with jitter, and resumes by itself once the step succeeds. Each state
change is logged once, not each retry; a restarted process would only meet the same outage.
"""

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from kafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from engine.runtime.heartbeat import Heartbeat

T = TypeVar("T")
RUNNING = "running"
WAITING_FOR_DATABASE = "waiting_for_database"
WAITING_FOR_BROKER = "waiting_for_broker"
WAITING_FOR_DISK = "waiting_for_disk"
STOPPED = "stopped"


class GaveUp(Exception):
    """The wait ended without the step succeeding: the loop is stopping, or what it held moved away."""


def away(exc: BaseException) -> str | None:
    """The waiting state ``exc`` means (the database or the broker is unreachable for now), or None."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return WAITING_FOR_DATABASE
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return WAITING_FOR_DATABASE
    if isinstance(exc, KafkaError) and exc.retriable:
        return WAITING_FOR_BROKER
    if isinstance(exc, OSError):  # a file that could not be written (the remits consumer's quarantine)
        return WAITING_FOR_DISK
    return None


class Outage:
    """One loop's state (running or waiting for what), its next delay, and its heartbeat."""

    def __init__(
        self, heartbeat: Heartbeat, log: Any, first_s: float = 0.1, cap_s: float = 5.0, settle_s: float = 5.0
    ) -> None:
        self.heartbeat = heartbeat
        self.log = log
        self.first_s, self.cap_s, self.settle_s = first_s, cap_s, settle_s
        self.state = RUNNING
        self._delay = first_s
        self._since = 0.0
        self._clean_since: float | None = None

    def waiting(self, state: str, exc: BaseException, **detail: Any) -> float:
        """Note a failed attempt; return how long to wait before the next (0.1 s doubling to 5 s, jittered)."""
        self._clean_since = None
        if state != self.state:
            self.log.warning("outage.waiting", state=state, error=type(exc).__name__)
            if self.state == RUNNING:
                self._since = time.monotonic()
            self.state = state
        self.heartbeat.beat(state, **detail)
        delay = random.uniform(self._delay / 2, self._delay)
        self._delay = min(self._delay * 2, self.cap_s)
        return delay

    def running(self, **detail: Any) -> None:
        """The loop turned: beat (throttled), and log the end of an outage once the loop has turned
        without a failure for ``settle_s``. One clean turn proves little: while the broker is away a
        consumer's poll swallows most connection failures and raises only some, so an idle loop
        would otherwise flap in and out of the outage (seen: 17 times in a 30 s cut)."""
        if self.state != RUNNING:
            if self._clean_since is None:
                self._clean_since = time.monotonic()
            if time.monotonic() - self._clean_since < self.settle_s:
                self.heartbeat.beat(self.state, **detail)
                return
            self.log.info("outage.over", was=self.state, waited_s=round(self._clean_since - self._since, 1))
            self.state = RUNNING
            self._delay = self.first_s
        self.heartbeat.beat(RUNNING, **detail)

    def stopped(self, **detail: Any) -> None:
        self.heartbeat.beat(STOPPED, **detail)

    def retry(self, step: Callable[[], T], pause: Callable[[float], bool], detail: Callable[[], dict[str, Any]]) -> T:
        """``step()`` until it succeeds, waiting out outages; ``pause(seconds)`` waits and says whether to
        go on (False raises GaveUp). Any other error is not an outage and propagates."""
        while True:
            try:
                return step()
            except Exception as exc:
                state = away(exc)
                if state is None:
                    raise
                delay = self.waiting(state, exc, **detail())
            if not pause(delay):
                raise GaveUp


def sleeper(stopping: Callable[[], bool], slice_s: float = 0.1) -> Callable[[float], bool]:
    """A pause for loops without a consumer to keep alive: sleeps, waking early when stopping."""

    def pause(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not stopping() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(slice_s, left))
        return not stopping()

    return pause
