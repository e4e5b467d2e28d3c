"""Kafka clients configured the one way the engine uses them, and topic creation."""

import contextlib
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from engine.config import Settings


def make_consumer(settings: Settings, *topics: str, **overrides: Any) -> KafkaConsumer:
    """A group member with auto-commit off: offsets move only after the database commit."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "group_id": settings.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": settings.batch_size,
        # a fetch returns as soon as data is there, or after the poll timeout: latency
        # under light load is one poll, not the client's 500 ms default wait
        "fetch_max_wait_ms": settings.poll_timeout_ms,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "fetch_max_bytes": 64 * 1024 * 1024,
        "max_partition_fetch_bytes": 8 * 1024 * 1024,
        **overrides,
    }
    return KafkaConsumer(*topics, **config)


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """acks=all and one request in flight per connection, so a retry cannot reorder one
    denial's transitions on its partition."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "acks": "all",
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "max_in_flight_requests_per_connection": 1,
        "retries": 5,
        **overrides,
    }
    return KafkaProducer(**config)


def ensure_topics(settings: Settings) -> list[str]:
    """Create the engine's topics if missing; return the ones created."""
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers.split(","))
    try:
        existing = set(admin.list_topics())
        wanted = [settings.events_topic, settings.transitions_topic, settings.dlq_topic, settings.remits_topic]
        new = [NewTopic(t, settings.partitions, 1) for t in wanted if t not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
        return [t.name for t in new]
    finally:
        admin.close()
