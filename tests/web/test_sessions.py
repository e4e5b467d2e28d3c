"""A browser's login is a server-side session: the cookie holds a random id (never the token),
the database only its SHA-256; it ends after DENIALFLOW_SESSION_HOURS, on logout (a replayed
copy of the cookie is refused) and with its token. Tokens themselves may expire."""

from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from engine.cli.app import app as cli
from engine.intake.event_data import Role
from engine.storage.models import WebSession
from engine.web.sessions import COOKIE, digest
from engine.web.tokens import create_token
from tests.factories import T0
from tests.web.conftest import OWN_ORIGIN, Web, log_in


def test_the_cookie_holds_a_random_session_id_stored_only_as_its_hash(web: Web) -> None:
    done = web.client.post("/login", data={"token": web.tokens["lead"]}, headers=OWN_ORIGIN, follow_redirects=False)
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    session_id = web.client.cookies[COOKIE]
    assert web.tokens["lead"] not in cookie
    with web.engine.connect() as conn:
        [row] = conn.execute(select(WebSession.__table__)).all()
    assert row.session_hash == digest(session_id) and session_id not in str(tuple(row))
    assert row.expires_at.replace(tzinfo=None) == (T0 + timedelta(hours=12)).replace(tzinfo=None)


def test_a_session_expires_with_the_clock(web: Web) -> None:
    log_in(web, "lead")
    web.clock.advance(hours=11, minutes=59)
    assert web.client.get("/").status_code == 200
    web.clock.advance(minutes=2)
    assert web.client.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    assert web.client.get("/api/stuck").status_code == 401


def test_logout_revokes_the_session_so_a_replayed_cookie_is_refused(web: Web) -> None:
    log_in(web, "lead")
    copied = web.client.cookies[COOKIE]
    assert web.client.get("/api/stuck").status_code == 200
    assert web.client.post("/logout", headers=OWN_ORIGIN, follow_redirects=False).status_code == 303
    web.client.cookies.set(COOKIE, copied)  # the attacker's copy, replayed
    assert web.client.get("/api/stuck").status_code == 401
    assert web.client.get("/", follow_redirects=False).status_code == 303
    log_in(web, "lead")  # a new login is a new session
    assert web.client.get("/api/stuck").status_code == 200


def test_a_token_used_as_the_cookie_is_not_a_session(web: Web) -> None:
    web.client.cookies.set(COOKIE, web.tokens["lead"])
    assert web.client.get("/api/stuck").status_code == 401


def test_a_revoked_token_ends_its_sessions(web: Web) -> None:
    log_in(web, "lead")
    result = CliRunner().invoke(cli, ["tokens", "revoke", "web.lead", "--database-url", str(web.engine.url)])
    assert result.exit_code == 0, result.output
    assert web.client.get("/api/stuck").status_code == 401


def test_the_cookie_is_secure_over_https_and_behind_a_trusted_proxy(web: Web) -> None:
    over_https = web.client.post("https://testserver/login", data={"token": web.tokens["lead"]},
                                 headers={"Origin": "https://testserver"}, follow_redirects=False)  # fmt: skip
    assert "Secure" in over_https.headers["set-cookie"]
    proxied = web.client.post("/login", data={"token": web.tokens["lead"]}, follow_redirects=False,
                              headers={**OWN_ORIGIN, "X-Forwarded-Proto": "https"})  # fmt: skip
    assert "Secure" not in proxied.headers["set-cookie"]  # not trusted unless configured
    web.client.app.state.settings = web.client.app.state.settings.model_copy(update={"trust_forwarded_proto": True})  # type: ignore[attr-defined]
    trusted = web.client.post("/login", data={"token": web.tokens["lead"]}, follow_redirects=False,
                              headers={**OWN_ORIGIN, "X-Forwarded-Proto": "https"})  # fmt: skip
    assert "Secure" in trusted.headers["set-cookie"]


def test_an_expired_token_is_refused_like_an_unknown_one(web: Web) -> None:
    token = create_token(web.engine, "temp.staff", Role.STAFF, T0, expires_at=T0 + timedelta(days=2))
    bearer = {"Authorization": f"Bearer {token}"}
    assert web.client.get("/api/stuck", headers=bearer).status_code == 200
    web.tokens["temp"] = token
    log_in(web, "temp")
    web.clock.advance(days=2)
    assert (
        web.client.get("/api/stuck", headers=bearer).json()["detail"] == "unknown, revoked or expired token or session"
    )
    assert web.client.get("/api/stuck").status_code == 401  # its session ends with it
    refused = web.client.post("/login", data={"token": token}, headers=OWN_ORIGIN)
    assert refused.status_code == 401 and "expired" in refused.text


def test_tokens_create_expires_days(web: Web) -> None:
    url = str(web.engine.url)
    made = CliRunner().invoke(cli, ["tokens", "create", "brief.visitor", "--role", "auditor", "--expires-days", "3",
                                    "--database-url", url])  # fmt: skip
    assert made.exit_code == 0, made.output
    listed = CliRunner().invoke(cli, ["tokens", "list", "--database-url", url])
    assert "brief.visitor" in listed.output and "expires " in listed.output
    assert (
        CliRunner().invoke(cli, ["tokens", "create", "x", "--expires-days", "0", "--database-url", url]).exit_code == 2
    )
