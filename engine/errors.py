"""One small error hierarchy: permanent rejections versus transient failures.

A `Rejected` event is final (it goes to the dead-letter topic and is never retried);
a `TransientError` means "roll back and try the same batch again".
"""


class DenialflowError(Exception):
    """Root of every error the engine raises on purpose."""


class Rejected(DenialflowError):
    """An inbound event that can never apply: names the rule and, where known, the field."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code} ({field}): {message}" if field else f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class TransientError(DenialflowError):
    """A failure worth retrying: the database or broker was briefly unavailable."""


class ConcurrencyConflict(TransientError):
    """Another worker changed the same denial or event first; reload and redo the batch."""


class NotFound(DenialflowError):
    """A denial asked for by id does not exist."""
