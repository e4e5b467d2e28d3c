"""What a query string may ask for: dates inside the event schema's window, a bounded number of
weeks, a bounded span, printable filters. Each refusal is a 422 naming the parameter and what
it allows, never a ten-megabyte page or a 500 from date arithmetic that overflows.

The window is `engine.intake.event_fields`' (EARLIEST..LATEST): what an event may carry is what a
query may ask about.
"""

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

from engine.intake.event_fields import EARLIEST, LATEST, PRINTABLE

#: Ten years: a report or a chain check over more is a job for the CLI, not a page.
MAX_WEEKS = 520
MAX_SPAN = timedelta(weeks=MAX_WEEKS)


def _in_window(day: date) -> date:
    if not EARLIEST <= day <= LATEST:
        raise PydanticCustomError(
            "date_window", "a date from {earliest} to {latest}",
            {"earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()},
        )  # fmt: skip
    return day


def _weeks_form(value: Any) -> Any:
    """A count of weeks is a whole number in range; the message says the range whatever was sent."""
    try:
        weeks = int(value)
    except (TypeError, ValueError):
        weeks = 0
    if str(value).strip() != str(weeks) or not 1 <= weeks <= MAX_WEEKS:
        raise PydanticCustomError("weeks_range", "a whole number of weeks from 1 to {most}", {"most": MAX_WEEKS})
    return weeks


def _blank(value: Any) -> Any:
    """An empty field of a GET form (``?payer=``) means the parameter was not given."""
    return None if value == "" else value


QueryDay = Annotated[date, AfterValidator(_in_window)]
Weeks = Annotated[int, BeforeValidator(_weeks_form)]
#: A filter or name from the query string or path: printable and short (a NUL would reach the
#: database as an error, not a "no match").
QueryText = Annotated[str, StringConstraints(max_length=200, pattern=PRINTABLE)]
OptionalDay = Annotated[QueryDay | None, BeforeValidator(_blank)]
OptionalText = Annotated[QueryText | None, BeforeValidator(_blank)]
PathText = Annotated[str, Path(max_length=200, pattern=PRINTABLE)]
Limit = Annotated[int, Query(ge=1, le=10_000)]


def refuse(parameter: str, message: str, value: Any) -> RequestValidationError:
    """The same 422 as a parameter FastAPI refused, for a rule that spans two parameters."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", parameter), "msg": message, "input": str(value)}]
    )


def check_span(start: date, end: date) -> None:
    """``start``..``end`` (inclusive) runs forwards and covers at most `MAX_SPAN`."""
    if start > end:
        raise refuse("start", f"start {start} is after end {end}", start)
    if end - start >= MAX_SPAN:
        raise refuse("end", f"a range of at most {MAX_WEEKS} weeks (start {start}, end {end})", end)
