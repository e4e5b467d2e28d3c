"""Messages the broker can never take, parked by the relay so the rows behind them go out.

A parked message keeps its bytes, headers and the broker's (or the producer's) reason;
`denialflow parked` lists and shows them, and re-queues one once the cause is fixed (a
larger limit, a created topic): it goes back to the outbox as a row of its own.
"""

import base64
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from engine.errors import NotFound
from engine.runtime.messages import Message, pack
from engine.storage import store
from engine.storage.models import ParkedMessage

PARKED = ParkedMessage.__table__


def park(conn: Connection, outbox_id: int, parked: list[tuple[Message, str]], now: datetime) -> None:
    if parked:
        conn.execute(insert(PARKED), [_row(outbox_id, m, reason, now) for m, reason in parked])


def _row(outbox_id: int, m: Message, reason: str, now: datetime) -> dict[str, Any]:
    return {"parked_at": now, "outbox_id": outbox_id, "topic": m.topic, "key": m.key, "value": m.value,
            "headers": [list(h) for h in m.headers], "size": len(m.value),
            "sha256": hashlib.sha256(m.value).hexdigest(), "reason": reason[:1000]}  # fmt: skip


def count(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(PARKED)) or 0)


def listing(conn: Connection) -> list[Any]:
    """Every parked message, oldest first, without its bytes."""
    c = PARKED.c
    return list(conn.execute(select(c.id, c.parked_at, c.outbox_id, c.topic, c.size, c.reason).order_by(c.id)))


def _get(conn: Connection, parked_id: int) -> Any:
    row = conn.execute(select(PARKED).where(PARKED.c.id == parked_id)).first()
    if row is None:
        raise NotFound(f"no parked message {parked_id}")
    return row


def show(conn: Connection, parked_id: int) -> dict[str, Any]:
    """One parked message as JSON-ready values (key and value in base64: they are bytes)."""
    r = _get(conn, parked_id)
    return {"id": r.id, "parked_at": r.parked_at.isoformat(), "outbox_id": r.outbox_id, "topic": r.topic,
            "size": r.size, "sha256": r.sha256, "reason": r.reason, "headers": r.headers,
            "key_base64": None if r.key is None else base64.b64encode(r.key).decode(),
            "value_base64": base64.b64encode(r.value).decode()}  # fmt: skip


def requeue(conn: Connection, parked_id: int, now: datetime) -> int:
    """Put a parked message back in the outbox as a row of its own; return the new outbox id."""
    r = _get(conn, parked_id)
    message = Message(r.topic, r.key, r.value, [(k, v) for k, v in r.headers])
    outbox_id = int(conn.execute(insert(store.OUTBOX).returning(store.OUTBOX.c.id),
                                 {"created_at": now, "messages": pack([message])}).scalar_one())  # fmt: skip
    conn.execute(delete(PARKED).where(PARKED.c.id == parked_id))
    return outbox_id
