"""structlog set-up: one JSON line per event of interest, PHI never in clear.

The redaction processor is the safety net, not the plan: the engine never passes
patient data to a logger, and anything named like PHI is masked if it ever does.
"""

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PHI_KEYS = frozenset({"patient", "patient_name", "member_id", "dob", "date_of_birth", "subscriber"})
REDACTED = "[redacted]"


def redact_phi(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in PHI_KEYS.intersection(event_dict):
        event_dict[key] = REDACTED
    return event_dict


def configure(level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_phi,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # Resolve sys.stderr per logger (not once at start-up) so redirection works;
        # the engine logs once per batch and per rejection, so no caching is needed.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
