"""Typed settings, read from the environment in one place.

Nothing here touches the disk or the network: ``Settings()`` only reads and
checks values, so importing or constructing it is cheap.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from limits import parse
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VARDEKEDJA_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None,
        description="postgresql://user:password@host:port/dbname for events and views; "
        "unset means SQLite files under the data folder",
    )
    database_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    operator_key: SecretStr | None = None
    platform_fee_rate: Decimal = Field(default=Decimal("0.10"), ge=0, le=1)
    public_base_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="Where people reach this server, e.g. https://marknad.example.se; links the API hands out "
        "(the checkout's payment_url) start with it. Unset: the address the request came to.",
    )
    embedded_projector: bool = Field(
        default=True, description="Run the projector inside the server; false when `vardekedja project` runs it"
    )
    poison_events: Literal["park", "stop"] = Field(
        default="park",
        description="What a projection does with an event it cannot apply: skip it and go on (park), or stop "
        "there alone until resumed (stop); see projections/faults.py",
    )
    command_timeout: float = Field(
        default=30.0, gt=0, le=600,
        description="Seconds a request waits for its command before a 503 (the command may still be recorded)",
    )
    # What one HTTP connection may hold (see api/server.py); a reverse proxy may bound more.
    request_head_timeout: float = Field(
        default=10.0, gt=0, le=600, description="Seconds a client has to send a request's line and headers"
    )
    keep_alive_timeout: float = Field(default=5.0, gt=0, le=600, description="Seconds an idle connection is kept")
    max_header_bytes: int = Field(
        default=64 * 1024, ge=4096, le=1 << 20, description="Bytes of request line and headers together"
    )

    maintenance_expected_hours: dict[str, int] = Field(
        default={"safety": 24}, description="Hours a maintenance order is expected to take, by service code (JSON)"
    )
    maintenance_default_hours: int = Field(default=14 * 24, ge=1, description="Hours for the other service codes")
    inspection_check_seconds: float = Field(default=60.0, gt=0, description="How often due inspections are opened")
    report_rate_limit: str = Field(default="10/minute", description="Fault reports per client address")
    public_read_rate_limit: str = Field(default="300/minute", description="Public Open311 reads per client address")
    sie_accounts: dict[str, int] = Field(
        default_factory=dict,
        description="BAS accounts for the SIE export by part (JSON): bank, vat, fee, parties, refund_due; "
        "a part left out keeps its default (see the README)",
    )
    company_name: str = Field(default="Värdekedja", min_length=1, max_length=200, description="Name in the SIE export")
    company_org_number: str | None = Field(default=None, pattern=r"^\d{6}-\d{4}$", description="For #ORGNR")
    settle_payouts: bool = Field(
        default=True, description="Run the settlement follower (transfers and reversals) beside the active projector"
    )
    payout_retry_seconds: float = Field(
        default=30.0, gt=0, le=86_400,
        description="A failed transfer is tried again after this many seconds, doubling after each failure",
    )

    impact_baseline_vehicle: Literal["cargo_bike", "electric_van", "van", "truck"] = Field(
        default="truck", description="Impact baseline: each delivery carried by this vehicle ..."
    )
    impact_baseline_distance_km: float = Field(default=250.0, ge=0, le=20_000, description="... over this distance")

    stripe_secret_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_SECRET_KEY")
    )
    stripe_publishable_key: str | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_PUBLISHABLE_KEY")
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET")
    )
    stripe_api_base: str | None = Field(default=None, validation_alias=AliasChoices("STRIPE_API_BASE"))

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlsplit(value).scheme
        if scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise ValueError("VARDEKEDJA_DATABASE_URL must be a postgresql:// URL (unset it for SQLite)")
        return value

    @field_validator("report_rate_limit", "public_read_rate_limit")
    @classmethod
    def _a_rate(cls, value: str) -> str:
        """A rate as the ``limits`` library reads it, refused here rather than when the server starts."""
        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is no rate: give a count per period, such as 10/minute or 300/hour") from None
        return value

    @field_validator("operator_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        """An empty VARDEKEDJA_OPERATOR_KEY is no key, as an unset one is (its form is checked where keys are)."""
        return None if value == "" else value

    def public_url(self, path: str, request_base: str) -> str:
        """An absolute URL for ``path`` (starting with "/"): under the public base URL, else the request's own."""
        base = self.public_base_url or request_base
        return base.rstrip("/") + path

    @field_validator("sie_accounts")
    @classmethod
    def _known_parts(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - {"bank", "vat", "fee", "parties", "refund_due"}
        if unknown:
            raise ValueError(f"VARDEKEDJA_SIE_ACCOUNTS names no part {sorted(unknown)[0]!r}; "
                             "the parts are bank, vat, fee, parties, refund_due")  # fmt: skip
        if any(not 1000 <= number <= 9999 for number in value.values()):
            raise ValueError("a BAS account has four digits (1000-9999)")
        return value

    @property
    def fee_rate(self) -> Fraction:
        return Fraction(self.platform_fee_rate)

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing library's settings for the event store these settings name."""
        if self.database_url is None:
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / "events.sqlite3"),
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        url = urlsplit(self.database_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_SCHEMA": self.database_schema,
            "POSTGRES_CONNECT_TIMEOUT": "5",
            # The library's default pool (5, overflowing to 15) per process adds up fast
            # with several workers and a projector; most requests need one connection.
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "8",
            "POSTGRES_LOCK_TIMEOUT": "10",
        }
