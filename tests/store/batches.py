"""Run the processor on in-memory records against a real database, one transaction a batch."""

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from engine.intake.records import Inbound
from engine.runtime.processor import BatchResult, Processor, Topics
from engine.storage import store
from workflows.policy import LivePolicy
from workflows.routing import Routing

NOW = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
PROCESSOR = Processor(LivePolicy(Routing.load()), Topics("feed", "dlq"), lambda: NOW)


def inbound(items: list[dict[str, Any] | bytes], start: int = 0) -> list[Inbound]:
    return [
        Inbound("events", 0, start + i, None, item if isinstance(item, bytes) else json.dumps(item).encode())
        for i, item in enumerate(items)
    ]


def commit(engine: Engine, messages: list[Inbound]) -> tuple[BatchResult, int | None]:
    with engine.begin() as conn:
        result = PROCESSOR.process(conn, messages)
        return result, store.write_batch(conn, result.write, NOW)
