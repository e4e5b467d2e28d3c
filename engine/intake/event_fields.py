"""The bounded field types every event is built from: text without control characters,
identifiers, dates and moments inside a sane window, small rule details, codes, money.

DOMAIN.md: input from the world is messy and money and dates are bounded, whatever the
role; these types are where the schema says so once.
"""

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, AwareDatetime, Field, GetCoreSchemaHandler, StringConstraints
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

#: Free text: no NUL or other control characters (tab and line breaks are text), whatever the role.
Text = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=500, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
    ),
]
#: Text that lands in a column of that width (`engine.storage.models`): payer ids, claim numbers
#: and references 80, procedure codes 60, people and places 120, names 200. A longer value is
#: refused here with the field named, not by the database with the whole batch.
Text60 = Annotated[Text, StringConstraints(max_length=60)]
Text80 = Annotated[Text, StringConstraints(max_length=80)]
Text120 = Annotated[Text, StringConstraints(max_length=120)]
Text200 = Annotated[Text, StringConstraints(max_length=200)]
#: A count or position stored as a 32-bit integer column.
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
#: An identifier: printable, no control characters at all.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Ident = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=PRINTABLE)]
#: The sane window for every date an event carries (DOMAIN: money and dates are bounded):
#: later arithmetic (deadlines, timers, aging) never overflows, and a typo'd century is refused.
EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)


class _Form:
    """The form a value must be written in before its type parses it, checked by pydantic-core
    itself for JSON (``json``: a schema of what JSON may hold, refused as ``error``) and by
    ``check`` for Python objects (replay, the publisher). A Python call per value was a tenth
    of a receipt's decoding (bench/throughput.py, issue 13). Given after the type's bounds,
    which pydantic-core then checks itself too; given before them, they run as Python functions."""

    def __init__(self, check: Callable[[Any], Any], json: CoreSchema, error: str, message: str) -> None:
        self.check, self.json, self.error, self.message = check, json, error, message

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        parsed = handler(source)
        written = core_schema.custom_error_schema(self.json, self.error, custom_error_message=self.message)
        return core_schema.json_or_python_schema(
            json_schema=core_schema.chain_schema([written, parsed]),
            python_schema=core_schema.no_info_before_validator_function(self.check, parsed),
            # documented as the type it parses to, bounds and all, not as the form check
            metadata={"pydantic_js_functions": [lambda _, document: document(parsed)]},
        )


_DAY_PATTERN = r"\d{4}-\d{2}-\d{2}"
_DAY = re.compile(_DAY_PATTERN)
_DAY_MESSAGE = "a date written YYYY-MM-DD"


def _day_form(value: Any) -> Any:
    """A date is written YYYY-MM-DD: not a number, not a moment with a time of day."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value):
        return value
    raise PydanticCustomError("date_form", _DAY_MESSAGE)


_MOMENT_MESSAGE = "a moment written in ISO 8601 with its UTC offset"


def _moment_form(value: Any) -> Any:
    """A moment is an ISO 8601 string with its offset: a number is not a moment."""
    if isinstance(value, datetime | str):
        return value
    raise PydanticCustomError("moment_form", _MOMENT_MESSAGE)


Day = Annotated[
    date,
    Field(ge=EARLIEST, le=LATEST),
    _Form(_day_form, core_schema.str_schema(pattern=f"^{_DAY_PATTERN}$"), "date_form", _DAY_MESSAGE),
]


def _in_window(moment: datetime) -> datetime:
    if not EARLIEST <= moment.date() <= LATEST:
        raise PydanticCustomError("date_window", "a moment between {earliest} and {latest}",
                                  {"earliest": EARLIEST.isoformat(), "latest": LATEST.isoformat()})  # fmt: skip
    return moment


_MOMENT_FORM = _Form(_moment_form, core_schema.str_schema(), "moment_form", _MOMENT_MESSAGE)
Moment = Annotated[AwareDatetime, _MOMENT_FORM, AfterValidator(_in_window)]

#: A rule's figures (escalation and timer detail): small and shallow, since they travel on the
#: change feed and in the audit log with every step.
DETAIL_MAX_BYTES, DETAIL_MAX_DEPTH = 4096, 4


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _encoded_size(detail: dict[str, Any]) -> int:
    try:
        return len(orjson.dumps(detail, default=str))
    except orjson.JSONEncodeError:  # an integer past 64 bits: no reader downstream takes it
        return DETAIL_MAX_BYTES + 1


def _small(detail: dict[str, Any]) -> dict[str, Any]:
    if _depth(detail) > DETAIL_MAX_DEPTH or _encoded_size(detail) > DETAIL_MAX_BYTES:
        raise PydanticCustomError("detail_size", "at most {size} bytes and {depth} levels deep",
                                  {"size": DETAIL_MAX_BYTES, "depth": DETAIL_MAX_DEPTH})  # fmt: skip
    return detail


Detail = Annotated[dict[str, Any], AfterValidator(_small)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z0-9]{1,5}$")]
_AMOUNT_PATTERN = r"-?\d{1,12}(\.\d{1,2})?"
_AMOUNT = re.compile(_AMOUNT_PATTERN)
_AMOUNT_MESSAGE = 'an amount written as a decimal string such as "1234.50"'


def _amount_form(value: Any) -> Any:
    """An amount is a decimal string ("1234.50") or a whole number: not a float (binary
    fractions are not cents), not "1_000", "4e2" or " 12 "."""
    exact = isinstance(value, int | Decimal) and not isinstance(value, bool)
    if exact or (isinstance(value, str) and _AMOUNT.fullmatch(value)):
        return value
    raise PydanticCustomError("amount_form", _AMOUNT_MESSAGE)


_AMOUNT_JSON = core_schema.union_schema(
    [core_schema.int_schema(strict=True), core_schema.str_schema(pattern=f"^{_AMOUNT_PATTERN}$")]
)
_AMOUNT_FORM = _Form(_amount_form, _AMOUNT_JSON, "amount_form", _AMOUNT_MESSAGE)
#: Money on an event: cents at most, 14 digits, never negative.
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2), _AMOUNT_FORM]
#: An adjustment or reversal amount, which a payer may send negative.
SignedMoney = Annotated[Decimal, Field(max_digits=14, decimal_places=2), _AMOUNT_FORM]
