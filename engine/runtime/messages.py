"""Outbound Kafka messages, and how a batch of them is packed into one outbox row."""

import base64
from dataclasses import dataclass, field

import orjson


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def pack(messages: list[Message]) -> bytes:
    return orjson.dumps([[m.topic, _b64(m.key), _b64(m.value), m.headers] for m in messages])


def unpack(packed: bytes) -> list[Message]:
    return [
        Message(topic, _unb64(key), _unb64(value) or b"", [(k, v) for k, v in headers])
        for topic, key, value, headers in orjson.loads(packed)
    ]
