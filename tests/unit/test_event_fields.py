"""The schema's field forms are strict where laxness would change meaning: an amount is a
decimal string or a whole number (a float's binary fraction is not cents; "1_000" and "4e2"
are not what a person wrote), a date is YYYY-MM-DD, a moment is ISO 8601 with its offset
(a number is neither). Each refusal names the field."""

import copy
import json
import sys
from types import FrameType
from typing import Any

import pytest

from engine.errors import Rejected
from engine.intake.events import _ADAPTER, decode, parse
from tests.factories import received_doc


def _with(path: tuple[str, ...], value: Any) -> bytes:
    doc = copy.deepcopy(received_doc())
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("data", "billed_amount"), "1_000"),
        (("data", "billed_amount"), "4e2"),
        (("data", "billed_amount"), 400.5),
        (("data", "billed_amount"), " 400.00"),
        (("data", "billed_amount"), "400.001"),
        (("data", "billed_amount"), True),
        (("data", "paid_amount"), "NaN"),
        (("data", "date_of_service"), 20260910),
        (("data", "date_of_service"), "20260910"),
        (("data", "date_of_service"), "2026-09-10T00:00:00"),
        (("data", "remit_date"), "2100-12-32"),
        (("occurred_at",), 1_700_000_000),
        (("occurred_at",), "2026-10-01T09:00:00"),
    ],
)
def test_a_lax_form_is_refused_naming_the_field(path: tuple[str, ...], value: Any) -> None:
    with pytest.raises(Rejected) as err:
        decode(_with(path, value))
    assert err.value.field == ".".join(path)


PLAIN = [(("data", "billed_amount"), "400"), (("data", "billed_amount"), 400), (("data", "billed_amount"), "0.5"),
         (("data", "date_of_service"), "2026-09-10")]  # fmt: skip


@pytest.mark.parametrize(("path", "value"), PLAIN)
def test_the_plain_forms_are_accepted(path: tuple[str, ...], value: Any) -> None:
    assert decode(_with(path, value)).data.billed_amount >= 0


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        (("data", "billed_amount"), "-1", "schema.invalid_field"),
        (("data", "billed_amount"), 10**15, "schema.invalid_field"),
        (("data", "date_of_service"), "1899-12-31", "schema.invalid_field"),
        (("data", "date_of_service"), "2101-01-01", "schema.invalid_field"),
    ],
)
def test_a_value_past_its_bounds_is_refused_naming_the_field(path: tuple[str, ...], value: Any, code: str) -> None:
    with pytest.raises(Rejected) as err:
        decode(_with(path, value))
    assert (err.value.code, err.value.field) == (code, ".".join(path))


def test_the_bounds_are_checked_by_pydantic_core() -> None:
    """Bounds given after a validator become Python functions, run on every value of every
    event (Money 5.4 us instead of 2.1): the schema must hold none of pydantic's own."""
    assert "pydantic._internal._validators" not in {
        getattr(getattr(f, "func", f), "__module__", None) for f in _functions(_ADAPTER.core_schema)
    }


FORM_CHECKS = {"_amount_form", "_day_form", "_moment_form"}


def _python_calls(work: Any) -> set[str]:
    """The names of the Python functions ``work()`` calls."""
    called: set[str] = set()

    def seen(frame: FrameType, event: str, _: Any) -> None:
        if event == "call":
            called.add(frame.f_code.co_name)

    sys.setprofile(seen)
    try:
        work()
    finally:
        sys.setprofile(None)
    return called


def test_the_forms_of_a_json_event_are_checked_by_pydantic_core() -> None:
    """A Python call per amount, date and moment was a tenth of a receipt's decoding; events
    given as Python objects (replay, the publisher) are still checked by the functions."""
    assert not _python_calls(lambda: decode(_with(("data", "billed_amount"), "400.00"))) & FORM_CHECKS
    assert _python_calls(lambda: parse(json.loads(_with(("data", "billed_amount"), "400.00")))) >= FORM_CHECKS


@pytest.mark.parametrize(
    ("path", "value"),
    [(("data", "billed_amount"), 400.5), (("data", "billed_amount"), "4e2"), (("data", "date_of_service"), 20260910),
     (("occurred_at",), 1_700_000_000), (("data", "billed_amount"), None)],
)  # fmt: skip
def test_a_lax_form_is_refused_alike_from_json_and_from_python(path: tuple[str, ...], value: Any) -> None:
    raw = _with(path, value)
    refusals = []
    for work in (lambda: decode(raw), lambda: parse(json.loads(raw))):
        with pytest.raises(Rejected) as err:
            work()
        refusals.append((err.value.code, err.value.field, err.value.message))
    assert refusals[0] == refusals[1]


def _functions(schema: Any) -> list[Any]:
    """Every validator function in a core schema, however deep."""
    found = []
    if isinstance(schema, dict):
        if callable(schema.get("function")):
            found.append(schema["function"])
        for value in schema.values():
            found.extend(_functions(value))
    elif isinstance(schema, list | tuple):
        for value in schema:
            found.extend(_functions(value))
    return found
