"""Every setting in one place, read from ``DENIALFLOW_*`` environment variables.

The README's configuration table lists the same names; `Settings` fails fast on a
value that cannot work (for example a max poll interval below the session timeout).
"""

from pathlib import Path
from typing import Literal, Self

from pydantic import AwareDatetime, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DENIALFLOW_", extra="ignore")

    database_url: str = Field("sqlite:///denialflow.db", description="SQLAlchemy URL; SQLite file or PostgreSQL")
    database_password_file: Path | None = Field(
        None, description="a file holding the database password (a Docker secret), so the URL need not carry it"
    )
    bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated")
    runtime_file: Path = Field(
        Path("denialflow.runtime.json"), description="where a running `denialflow run` says where it listens"
    )
    events_topic: str = "denials.events"
    transitions_topic: str = "denials.transitions"
    dlq_topic: str = "denials.dlq"
    remits_topic: str = Field("clearinghouse.remits", description="raw X12 835 text, one remittance file a message")
    remits_group_id: str = "denialflow-remits"
    claims_outbound_topic: str = Field("claims.outbound", description="raw X12 837 text, one claim file a message")
    claims_group_id: str = "denialflow-claims"
    claims_checked_topic: str = Field("claims.checked", description="each outgoing claim's verdict: clear, hold, ...")
    authorizations_topic: str = Field(
        "authorizations.changes", description="authorization change feed: recorded, units counted, alerts"
    )
    partitions: int = Field(6, ge=1, description="partitions for topics the engine creates")
    group_id: str = "denialflow-engine"
    batch_size: int = Field(1000, ge=1, le=50_000, description="max records per poll = per database transaction")
    poll_timeout_ms: int = Field(200, ge=1, description="how long a poll waits for records before the loop goes round")
    fetch_wait_ms: int = Field(
        20, ge=1, le=5_000, description="how long the broker may hold a fetch it has nothing for yet (idle latency)"
    )
    max_poll_interval_ms: int = Field(30_000, ge=1000, description="also the group's rebalance timeout")
    session_timeout_ms: int = Field(10_000, ge=1000)
    heartbeat_interval_ms: int = Field(3_000, ge=100)
    db_retries: int = Field(5, ge=0, description="retries of a batch on a transient database error")
    pipeline: bool = Field(
        True, description="PostgreSQL: write each batch in a thread while the next is worked (engine.runtime.pipeline)"
    )
    routing_file: Path | None = Field(None, description="routing TOML; the packaged default when unset")
    payers_file: Path | None = Field(None, description="payer deadlines TOML; the packaged default when unset")
    escalation_file: Path | None = Field(None, description="escalation rules TOML; the packaged default when unset")
    auth_rules_file: Path | None = Field(
        None, description="authorization rules TOML (prior auth, referrals, alerts); the packaged default when unset"
    )
    now: AwareDatetime | None = Field(None, description="start the engine's clock here (ISO 8601 with offset)")
    timer_interval_ms: int = Field(1000, ge=10, description="how often the timer service looks for due timers")
    timer_batch: int = Field(1000, ge=1, le=50_000, description="timers fired per publish-and-mark transaction")
    web_host: str = Field("127.0.0.1", description="address the web app listens on (0.0.0.0 in a container)")
    web_port: int = Field(8000, ge=1, le=65535, description="port the web app listens on")
    session_hours: float = Field(12, gt=0, le=720, description="how long a browser's login lasts")
    trust_forwarded_proto: bool = Field(
        False, description="believe a TLS proxy's X-Forwarded-Proto: https (the login cookie is then marked Secure)"
    )
    quarantine_dir: Path | None = Field(
        None, description="where refused 835 files are kept, named by digest; unset: quarantine/ beside the SQLite file"
    )
    audit_key_file: Path | None = Field(
        None, description="the HMAC key that signs audit checkpoints, in a file kept outside the database"
    )
    audit_key: SecretStr | None = Field(None, description="the same key inline (the key file wins when both are set)")
    checkpoints_topic: str = Field("audit.checkpoints", description="signed audit checkpoints, kept forever")
    checkpoint_every_s: float = Field(60.0, gt=0, description="how often the timer service checkpoints a changed log")
    health_expect: str = Field(
        "", pattern=r"^((worker|relay|timers|remits|claims)(,(worker|relay|timers|remits|claims))*)?$",
        description="process kinds that must each have a live process for /healthz to answer 200 (comma separated)",
    )  # fmt: skip
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    @model_validator(mode="after")
    def _password_from_file(self) -> Self:
        """The password joins the URL in memory only; the environment and compose file never hold it."""
        if self.database_password_file is not None:
            try:
                password = self.database_password_file.read_text().strip()
            except OSError as exc:
                raise ValueError(f"cannot read DENIALFLOW_DATABASE_PASSWORD_FILE: {exc.strerror}") from None
            url = make_url(self.database_url).set(password=password)
            self.database_url = url.render_as_string(hide_password=False)
            self.database_password_file = None  # applied once, even when the settings are copied
        return self

    @model_validator(mode="after")
    def _kafka_timeouts_fit(self) -> Self:
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("DENIALFLOW_HEARTBEAT_INTERVAL_MS must be below DENIALFLOW_SESSION_TIMEOUT_MS")
        return self
