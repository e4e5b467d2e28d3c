"""Kafka clients configured the one way the engine uses them, and topic creation."""

import contextlib
from collections.abc import Callable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError, TopicAlreadyExistsError

from engine.config import Settings

#: The largest record the broker takes: a whole 835 file on clearinghouse.remits. Compose sets
#: KAFKA_MESSAGE_MAX_BYTES to this (the bundled Tansu has no limit); consumers fetch up to it.
BROKER_MAX_MESSAGE_BYTES = 10 * 1024 * 1024
#: The largest request the engine's producers send. Everything they write is far below it (change
#: feed, fired timers, events read from an 835, dead letters cut to 256 KiB); a message beyond
#: it is refused before it leaves, and the relay parks it (`denialflow parked`).
PRODUCER_MAX_REQUEST_BYTES = 1024 * 1024


def make_consumer(settings: Settings, *topics: str, **overrides: Any) -> KafkaConsumer:
    """A group member with auto-commit off: offsets move only after the database commit."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "group_id": settings.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": settings.batch_size,
        # Apache Kafka answers a fetch as soon as a record is there (fetch_min_bytes 1); the
        # bundled Tansu holds it for the whole wait even then, so the wait is kept short:
        # an idle engine's p50 publish -> committed went from 58 ms to 11 ms (bench.throughput
        # --latency-rate 10); under load every fetch comes back full at once either way
        "fetch_max_wait_ms": settings.fetch_wait_ms,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "fetch_max_bytes": 64 * 1024 * 1024,
        "max_partition_fetch_bytes": BROKER_MAX_MESSAGE_BYTES,
        **overrides,
    }
    return KafkaConsumer(*topics, **config)


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """acks=all and one request in flight per connection, so a retry cannot reorder one
    denial's transitions on its partition. A send waits at most 5 s for a topic's metadata,
    so a loop meeting a broker outage hears of it soon and can say it is waiting."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "acks": "all",
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "max_in_flight_requests_per_connection": 1,
        "retries": 5,
        "max_request_size": PRODUCER_MAX_REQUEST_BYTES,
        "max_block_ms": 5_000,
        **overrides,
    }
    return KafkaProducer(**config)


def flush_waiting(producer: KafkaProducer, waiting: Callable[[], None], step_s: float = 1.0) -> None:
    """Flush, calling ``waiting()`` every ``step_s`` the broker has not answered: a loop blocked on an
    outage still beats its heartbeat (and a consumer still polls to keep its group membership)."""
    while True:
        try:
            producer.flush(timeout=step_s)
            return
        except KafkaTimeoutError:
            waiting()


def _checkpoints_topic(name: str) -> NewTopic:
    """One partition, so the checkpoints keep their order, kept forever: each one is a delta on
    the one before it, so neither deleting old ones nor compacting them may happen."""
    return NewTopic(name, 1, 1, topic_configs={"cleanup.policy": "delete", "retention.ms": "-1",
                                               "retention.bytes": "-1"})  # fmt: skip


def ensure_topics(settings: Settings) -> list[str]:
    """Create the engine's topics if missing; return the ones created."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers.split(","))
    try:
        existing = set(admin.list_topics())
        wanted = [
            settings.events_topic, settings.transitions_topic, settings.dlq_topic, settings.remits_topic,
            settings.claims_outbound_topic, settings.claims_checked_topic, settings.authorizations_topic,
        ]  # fmt: skip
        new = [NewTopic(t, settings.partitions, 1) for t in wanted if t not in existing]
        if settings.checkpoints_topic not in existing:
            new.append(_checkpoints_topic(settings.checkpoints_topic))
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
        return [t.name for t in new]
    finally:
        admin.close()
