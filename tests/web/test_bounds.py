"""Every date, week count, limit and text in a query or path is bounded: year 0001 or 9999,
100,000 weeks or a twenty-year range is a 422 naming the parameter and what it allows, on the
JSON API (FastAPI's ``loc``/``msg``) and on the pages (the same words), never a huge page or a 500."""

import pytest

from tests.web.conftest import DENIAL, Web, log_in

WINDOW = "a date from 1900-01-01 to 2100-12-31"
REFUSED = [
    ("/api/dashboard?start=0001-01-01", "start", WINDOW),
    ("/api/dashboard?end=9999-12-31", "end", WINDOW),
    ("/api/dashboard?start=1900-01-01&end=2100-12-31", "end", "at most 520 weeks"),
    ("/api/dashboard?start=2026-10-02&end=2026-10-01", "start", "is after end"),
    ("/api/reports/weekly?weeks=100000", "weeks", "a whole number of weeks from 1 to 520"),
    ("/api/reports/weekly?weeks=0", "weeks", "a whole number of weeks from 1 to 520"),
    ("/api/reports/weekly?weeks=1e3", "weeks", "a whole number of weeks from 1 to 520"),
    ("/api/reports/weekly?week=9999-12-31", "week", WINDOW),
    ("/api/audit/verify?start=0001-01-01&end=2026-01-01", "start", WINDOW),
    ("/api/audit/verify?start=1950-01-01&end=2026-01-01", "end", "at most 520 weeks"),
    ("/api/audit/verify?start=2026-01-01", "end", "give both start and end"),
    ("/api/stuck?limit=100000", "limit", "less than or equal to 10000"),
    ("/api/triage?limit=0", "limit", "greater than or equal to 1"),
    ("/api/triage?payer=AET%00NA", "payer", "should match pattern"),
    ("/api/stuck?team=" + "x" * 201, "team", "at most 200 characters"),
    ("/api/queue/cod%00ing", "team", "should match pattern"),
    (f"/api/denials/{DENIAL}%00", "denial_id", "should match pattern"),
]


@pytest.mark.parametrize(("path", "parameter", "rule"), REFUSED)
def test_the_api_refuses_an_out_of_bounds_parameter_naming_it(web: Web, path: str, parameter: str, rule: str) -> None:
    response = web.client.get(path, headers={"Authorization": f"Bearer {web.tokens['lead']}"})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"][-1] == parameter and rule in error["msg"], error


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/?start=0001-01-01", f"start: {WINDOW}"),
        ("/?end=9999-12-31", f"end: {WINDOW}"),
        ("/?start=yesterday", "start: Input should be a valid date"),
        ("/?start=1990-01-01&end=2026-01-01", "end: a range of at most 520 weeks"),
        ("/audit?start=2026-01-01&end=9999-12-31", f"end: {WINDOW}"),
        ("/audit/denials?denial=abc%00def", "denial: String should match pattern"),
    ],
)
def test_a_page_refuses_an_out_of_bounds_parameter_in_words(web: Web, path: str, words: str) -> None:
    log_in(web, "lead")
    page = web.client.get(path)
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert words in page.text, page.text[-800:]


def test_blank_filters_mean_all_and_the_bounds_themselves_are_accepted(web: Web) -> None:
    log_in(web, "lead")
    assert web.client.get("/?payer=&team=&category=&site=&start=&end=").status_code == 200
    assert web.client.get("/?start=2017-01-13&end=2026-12-31").status_code == 200  # exactly 520 weeks
    lead = {"Authorization": f"Bearer {web.tokens['lead']}"}
    assert web.client.get("/api/reports/weekly?week=2100-12-31&weeks=520", headers=lead).status_code == 200
    assert web.client.get("/api/audit/verify?start=1900-01-01&end=1900-01-31", headers=lead).status_code == 200
