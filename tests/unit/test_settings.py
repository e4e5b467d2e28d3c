"""Settings that hold secrets or combine values: the database password from a file (a Docker
secret) joins the URL in memory, never the environment; a file that cannot be read is named."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from engine.config import Settings


def test_the_database_password_comes_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "postgres_password"
    secret.write_text("p@ss:w/rd%\n")
    s = Settings(database_url="postgresql://denialflow@postgres:5432/denialflow", database_password_file=secret)
    url = make_url(s.database_url)
    assert (url.username, url.password, url.host) == ("denialflow", "p@ss:w/rd%", "postgres")
    assert make_url(s.model_copy(update={"log_level": "DEBUG"}).database_url).password == "p@ss:w/rd%"


def test_an_unreadable_password_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read DENIALFLOW_DATABASE_PASSWORD_FILE"):
        Settings(database_url="postgresql://denialflow@postgres/denialflow", database_password_file=tmp_path / "none")
