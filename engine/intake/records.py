"""One consumed record before it reaches a denial: decoded without ever raising, its body's
digest (what tells a repeat from a conflicting duplicate), whether its event id is in another
producer's namespace, and its dead letter. Nothing here reads or writes the database."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from engine.errors import Rejected
from engine.intake.event_data import Role
from engine.intake.events import decode
from engine.runtime.messages import Message
from engine.runtime.timers import ACTOR as TIMER_ACTOR


@dataclass(frozen=True, slots=True)
class Inbound:
    """One consumed record, as the processor needs it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


#: A dead letter's value keeps the original bytes up to this size (the producer sends at most
#: 1 MiB a message); beyond, the first part and, in a header, the whole record's size and digest.
DEAD_LETTER_MAX_BYTES = 256 * 1024


def dead_letter(msg: Inbound, reason: Rejected, event_id: str | None, topic: str) -> Message:
    """A dead letter keeps the original bytes as its value; the why travels in headers."""
    headers = [
        ("denialflow.error", json.dumps(reason.as_dict())),
        ("denialflow.source", json.dumps({"topic": msg.topic, "partition": msg.partition, "offset": msg.offset})),
    ]
    if event_id:
        headers.append(("denialflow.event_id", event_id))
    value = msg.value
    if value is not None and len(value) > DEAD_LETTER_MAX_BYTES:
        whole = {"size": len(value), "sha256": hashlib.sha256(value).hexdigest()}
        headers.append(("denialflow.truncated", json.dumps(whole)))
        value = value[:DEAD_LETTER_MAX_BYTES]
    return Message(topic, msg.key, value, headers)


def _salvage_event_id(raw: bytes) -> str | None:
    """The event id of a message that failed validation, if its JSON carries one, so its
    dead letter and log line name it the way the sender knows it."""
    try:
        doc = json.loads(raw)
        event_id = doc.get("event_id") if isinstance(doc, dict) else None
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 200 or not event_id.isprintable():
            return None
        event_id.encode()  # a lone surrogate cannot travel in a header
    except (ValueError, RecursionError):  # not JSON, not encodable, or nested past Python's limit
        return None
    return event_id


def internal_error(exc: BaseException) -> Rejected:
    """What the engine did not foresee, as the record's rejection: the consumer goes on."""
    return Rejected("engine.internal_error", f"{type(exc).__name__} while handling this record", None)


#: Event ids one producer alone may send, so that nobody else can take one first: the timer
#: service's (`engine.runtime.timers.fire_event`) and those an 835 yields (`engine.intake.x12.denials`).
RESERVED_IDS: tuple[tuple[str, str, Callable[[Any], bool]], ...] = (
    ("timer-", f"the timer service (role system, actor {TIMER_ACTOR})",
     lambda e: e.role == Role.SYSTEM and e.actor == TIMER_ACTOR),
    ("835-", "role system (events read from an 835)", lambda e: e.role == Role.SYSTEM),
    ("837-", "role system (events read from an 837)", lambda e: e.role == Role.SYSTEM),
    ("recheck-", "the worker (role system): an authorization recorded after a denial",
     lambda e: e.role == Role.SYSTEM),
)  # fmt: skip


def reserved_id(event: Any) -> Rejected | None:
    """Why ``event`` may not use its id (another producer's namespace), or None."""
    for prefix, owner, allowed in RESERVED_IDS:
        if event.event_id.startswith(prefix) and not allowed(event):
            return Rejected("event.reserved_id", f"event ids beginning {prefix!r} are sent only by {owner}", "event_id")
    return None


def decode_record(msg: Inbound) -> tuple[Any, Rejected | None, str | None]:
    """(event, None, its id) or (None, why not, the id its bytes claim if any): never raises."""
    if msg.value is None:
        return None, Rejected("schema.malformed_json", "the record has no value (a tombstone)", None), None
    try:
        event = decode(msg.value)
    except Rejected as exc:
        return None, exc, _salvage_event_id(msg.value)
    except Exception as exc:  # one record's bytes must never stop the consumer
        return None, internal_error(exc), _salvage_event_id(msg.value)
    return event, None, event.event_id


_SOURCE_FILE = b'"source_file"'


def body_digest(raw: bytes) -> str:
    """What tells a repeat of an event from a conflicting one: its bytes as sent, except that
    the same remittance arriving in another file (another digest, other envelope warnings)
    is the same event."""
    if _SOURCE_FILE in raw:
        doc = orjson.loads(raw)
        doc["data"].pop("source_file", None)
        raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(raw, digest_size=16).hexdigest()
