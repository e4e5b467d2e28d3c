"""A web app over a real database with one denial, a token per role and the denial's owner's
own staff token, on a clock the test moves."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.clock import ManualClock
from engine.config import Settings
from engine.intake.event_data import Role
from engine.storage import store
from engine.storage.db import make_engine
from engine.web.app import create_app
from engine.web.tokens import create_token
from tests.factories import T0, received_doc, received_id
from tests.store.batches import commit, inbound

DOC = received_doc(701, adjustments=[("CO", "4", "350.00")])
DENIAL = received_id(DOC)
#: Same-origin, as a browser on the TestClient's site sends it on every POST.
OWN_ORIGIN = {"Origin": "http://testserver"}


@dataclass
class Web:
    client: TestClient
    clock: ManualClock
    engine: Engine
    tokens: dict[str, str]  # by role name, and "owner" for the denial's owner (staff)
    owner: str


@pytest.fixture
def web(settings: Settings) -> Iterator[Web]:
    engine = make_engine(settings.database_url)
    commit(engine, inbound([DOC]))
    with engine.connect() as conn:
        owner = store.get_denial(conn, DENIAL).owner
    tokens = {r.value: create_token(engine, f"web.{r.value}", r, T0) for r in (Role.STAFF, Role.LEAD, Role.AUDITOR,
                                                                              Role.ADMIN)}  # fmt: skip
    tokens["owner"] = create_token(engine, owner, Role.STAFF, T0)
    clock = ManualClock(T0)
    yield Web(TestClient(create_app(settings, clock)), clock, engine, tokens, owner)
    engine.dispose()


def log_in(web: Web, who: str) -> None:
    """Log in through the form, as a browser does; the client then holds the session cookie."""
    web.client.cookies.clear()
    done = web.client.post("/login", data={"token": web.tokens[who], "next": "/"}, headers=OWN_ORIGIN,
                           follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
