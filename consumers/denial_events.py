"""The `denials.events` consumer: the engine's worker process."""

from collections.abc import Callable

import structlog

from engine.clock import Clock, clock_from
from engine.config import Settings
from engine.runtime.heap import settle_heap
from engine.runtime.kafka import make_consumer
from engine.runtime.pipeline import PipelinedWorker
from engine.runtime.processor import Processor, Topics
from engine.runtime.worker import Committed, Worker
from engine.storage.wal import writer_engine
from workflows.auth_rules import AuthRules
from workflows.escalation import EscalationRules
from workflows.payers import PayerPolicies
from workflows.policy import LivePolicy
from workflows.routing import Routing

log = structlog.get_logger("denialflow.worker")


def build_worker(
    settings: Settings, clock: Clock | None = None, on_commit: Callable[[Committed], None] | None = None
) -> Worker:
    """Everything the worker needs, built once: one engine, one producer, one machine."""
    engine, checkpointer = writer_engine(settings.database_url)
    processor = Processor(
        LivePolicy(
            Routing.load(settings.routing_file),
            PayerPolicies.load(settings.payers_file),
            EscalationRules.load(settings.escalation_file),
            AuthRules.load(settings.auth_rules_file),
        ),
        Topics(
            settings.transitions_topic,
            settings.dlq_topic,
            settings.events_topic,
            settings.authorizations_topic,
            settings.claims_checked_topic,
        ),
        clock or clock_from(settings.now),
    )
    # SQLite's driver retakes the GIL for every row a busy main thread holds: no gain there
    kind = PipelinedWorker if settings.pipeline and engine.dialect.name == "postgresql" else Worker
    return kind(
        make_consumer(settings, settings.events_topic),
        engine,
        processor,
        batch_size=settings.batch_size,
        poll_timeout_ms=settings.poll_timeout_ms,
        db_retries=settings.db_retries,
        on_commit=on_commit,
        checkpointer=checkpointer,
    )


def run(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; the batch in hand is finished and committed first."""
    worker = build_worker(settings)
    log.info("worker.started", topic=settings.events_topic, group=settings.group_id)
    settle_heap()
    try:
        worker.run_until_signalled()
    finally:
        worker.engine.dispose()
