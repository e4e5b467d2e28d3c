from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from engine.storage.db import make_engine


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    yield e
    e.dispose()
