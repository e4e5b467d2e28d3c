"""The `denials.events` consumer: the engine's worker process."""

import signal
from collections.abc import Callable

import structlog

from engine.clock import Clock, system_clock
from engine.config import Settings
from engine.db import make_engine
from engine.kafka import make_consumer
from engine.processor import Processor, Topics
from engine.worker import Committed, Worker
from workflows.policy import LivePolicy
from workflows.routing import Routing

log = structlog.get_logger("denialflow.worker")


def build_worker(
    settings: Settings, clock: Clock = system_clock, on_commit: Callable[[Committed], None] | None = None
) -> Worker:
    """Everything the worker needs, built once: one engine, one producer, one machine."""
    engine = make_engine(settings.database_url)
    processor = Processor(
        LivePolicy(Routing.load(settings.routing_file)),
        Topics(settings.transitions_topic, settings.dlq_topic),
        clock,
    )
    return Worker(
        make_consumer(settings, settings.events_topic),
        engine,
        processor,
        batch_size=settings.batch_size,
        poll_timeout_ms=settings.poll_timeout_ms,
        db_retries=settings.db_retries,
        on_commit=on_commit,
    )


def run(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; the batch in hand is finished and committed first."""
    worker = build_worker(settings)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    log.info("worker.started", topic=settings.events_topic, group=settings.group_id)
    try:
        worker.run()
    finally:
        worker.engine.dispose()
