"""An outage is logged once when it starts and once when it is over, however the loop flaps."""

import time
from typing import Any

from kafka.errors import KafkaConnectionError

from engine.runtime.outage import RUNNING, WAITING_FOR_BROKER, Outage


class _Beats:
    """What the loop's heartbeat was told, in order (the real one writes these to the store)."""

    def __init__(self) -> None:
        self.states: list[str] = []

    def beat(self, state: str, **_: Any) -> None:
        self.states.append(state)


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, event: str, **_: Any) -> None:
        self.lines.append(event)

    info = warning


def test_clean_turns_between_failures_do_not_end_the_outage() -> None:
    beats, log = _Beats(), _Log()
    outage = Outage(beats, log, settle_s=0.2)  # type: ignore[arg-type]
    for _ in range(5):  # a consumer's poll raises only now and then while the broker is away
        outage.waiting(WAITING_FOR_BROKER, KafkaConnectionError())
        outage.running()
    assert log.lines == ["outage.waiting"] and set(beats.states) == {WAITING_FOR_BROKER}
    time.sleep(0.25)
    outage.running()  # the first clean turn after settle_s without a failure
    outage.running()
    assert log.lines == ["outage.waiting", "outage.over"] and beats.states[-2:] == [RUNNING, RUNNING]


def test_backoff_doubles_to_its_cap_and_starts_over_after_the_outage() -> None:
    outage = Outage(_Beats(), _Log(), first_s=0.1, cap_s=0.4, settle_s=0)  # type: ignore[arg-type]
    delays = [outage.waiting(WAITING_FOR_BROKER, KafkaConnectionError()) for _ in range(5)]
    assert all(low / 2 <= d <= low for d, low in zip(delays, [0.1, 0.2, 0.4, 0.4, 0.4], strict=True))
    outage.running()
    assert outage.state == RUNNING and outage.waiting(WAITING_FOR_BROKER, KafkaConnectionError()) <= 0.1
