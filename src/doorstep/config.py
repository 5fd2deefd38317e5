"""Settings from DOORSTEP_* environment variables, built once per entry point."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from functools import cached_property, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from doorstep.domain.allocation import Waterfall
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.errors import PackError
from doorstep.domain.rules import Pack
from doorstep.domain.rules import load as load_rule_pack


@lru_cache(maxsize=16)
def _rule_pack(jurisdiction: str, override: tuple[str, str] | None) -> Pack:
    """Packs are immutable and keyed here by everything they are built from, so this memo
    changes no result: it only spares parsing the same TOML for every Settings built (each
    CLI command and test builds its own)."""
    return load_rule_pack(jurisdiction, override)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOORSTEP_", env_file=".env", extra="ignore")

    var_dir: Path = Field(Path("var"), description="where the SQLite file, reports and exports go")
    database_url: str = Field("", description="SQLAlchemy URL; empty: SQLite file in var_dir")
    timezone: str = Field("Asia/Shanghai", description="business time zone")
    buckets: str = Field(
        "M1:1-30,M2:31-60,M3:61-90,M4:91-120,M5:121-150,M6:151-180,M7+:181-",
        description="DPD buckets, name:min-max, the last open-ended",
    )
    waterfall: str = Field("fee,penalty,interest,principal", description="allocation order")
    waterfall_by_installment: bool = Field(True, description="settle oldest installment first")
    data_keys: str = Field(
        "",
        description="Fernet keys for personal data, comma-separated, the first encrypts; "
        "empty: keys kept in var_dir/secrets (single-office installs and the demo)",
    )
    lookup_key: str = Field("", description="HMAC key for searching personal data")
    session_secret: str = Field(
        "", description="signs web sessions; empty: kept in var_dir/secrets"
    )
    secure_cookies: bool = Field(False, description="send cookies over HTTPS only (behind TLS)")
    # Selection by expected value (with an active visit_priority model scored that day)
    visit_uplift: Decimal = Field(
        Decimal("0.25"),
        ge=0,
        le=1,
        description="selection: share of the overdue amount a visit recovers from a customer "
        "who would not cure by themselves",
    )
    visit_cost: Decimal = Field(
        Decimal("300"), ge=0, description="selection: cost of one visit in yuan"
    )
    selection_holdout: Decimal = Field(
        Decimal("0.05"),
        ge=0,
        le=Decimal("0.5"),
        description="selection: share of customers kept back unvisited (holdout), so the "
        "effect of visits is measured",
    )
    payment_future_days: int = Field(
        0,
        ge=0,
        le=7,
        description="ingest: days after today (business date) a payment may be dated; 0 "
        "refuses any future date (lender and doorstep date payments in the same zone)",
    )
    # The daily batch
    drop_dir: Path | None = Field(
        None, description="daily batch: folder whose sub-folders of lender files are ingested"
    )
    prepare_dossiers: bool = Field(
        default=True,
        description="the batch renders the day's dossiers ahead for each verifier (off: "
        "rendered on the first download)",
    )
    batch_publish_plans: bool = Field(
        False, description="daily batch: publish the next day's plans (else left as drafts)"
    )
    # Feedback to the lender: webhooks and promises to pay
    webhook_max_attempts: int = Field(
        8, ge=1, le=50, description="webhooks: attempts before a delivery goes to the dead letters"
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="webhooks: how long to wait for the lender's answer"
    )
    webhook_backoff_seconds: float = Field(
        30.0, gt=0, description="webhooks: first retry delay, doubled each attempt, with jitter"
    )
    webhook_backoff_max_seconds: float = Field(
        6 * 3600.0, gt=0, description="webhooks: longest delay between two attempts"
    )
    promise_grace_days: int = Field(
        3, ge=0, le=60, description="promises to pay: days after the date a payment still counts"
    )
    plan_allowed_hours: str = Field(
        "08:00-22:00", description="visit planning: when a visit may start and end, HH:MM-HH:MM"
    )
    plan_working_hours: str = Field(
        "09:00-18:00", description="visit planning: when a work address may be visited"
    )
    plan_service_minutes: str = Field(
        "default:30",
        description="visit planning: minutes at the door per case type (bucket or skip_trace), "
        "e.g. default:30,M7+:45,skip_trace:40",
    )
    plan_speed_kmh: float = Field(25.0, gt=0, description="visit planning: door-to-door km/h")
    plan_detour: float = Field(1.3, ge=1.0, description="visit planning: road / straight distance")
    plan_seconds: float = Field(10.0, gt=0, le=600, description="visit planning: solver budget")
    plan_edit_seconds: float = Field(
        3.0, gt=0, le=600, description="visit planning: solver budget after moving a stop"
    )
    plan_iterations: int | None = Field(
        None, ge=1, description="visit planning: also stop each search after this many iterations"
    )
    plan_workers: int = Field(
        1, ge=1, le=8, description="visit planning: seeds solved at once, one core each"
    )
    osrm_url: str = Field(
        "", description="OSRM server for road travel times (table service); empty: great circle"
    )
    map_tile_url: str = Field(
        "", description="map tiles for the planning page, {z}/{x}/{y} URL; empty: blank map"
    )
    # Repayment plans, offers and the borrower portal
    repayment_rate_cap: Decimal = Field(
        Decimal("0.24"), ge=0, lt=1, description="highest annualised (IRR) rate a plan may have"
    )
    repayment_affordable_share: Decimal = Field(
        Decimal("0.5"), gt=0, le=1, description="share of disposable income a plan may take"
    )
    offer_approval_fen: int = Field(
        100_000, ge=0, description="waivers/discounts above this (fen) need a second manager"
    )
    offer_days: int = Field(14, ge=1, le=90, description="days an offer stays open")
    repayment_grace_days: int = Field(
        10, ge=0, le=90, description="days late before a repayment plan is broken"
    )
    portal_hold_days: int = Field(14, ge=1, le=90, description="visit hold after a hardship report")
    portal_dev_codes: bool = Field(False, description="show sent portal codes on /portal/dev/codes")
    # The visit: check-in plausibility, safety, evidence, next step
    visit_map_url: str = Field(
        "https://uri.amap.com/marker?position={lng},{lat}",
        description="map link of a stop on the verifier's day, with {lat} and {lng}",
    )
    visit_max_distance_m: int = Field(
        500, ge=10, le=100_000, description="check-in: farthest from the planned address"
    )
    visit_hours: str = Field(
        "08:00-22:00", description="check-in: allowed hours (until the conduct rules decide)"
    )
    visit_max_accuracy_m: float = Field(
        200.0, gt=0, description="check-in: worst acceptable reported accuracy (metres)"
    )
    visit_max_clock_skew_seconds: int = Field(
        300, ge=0, description="check-in: largest device-clock difference to the server"
    )
    visit_max_speed_kmh: float = Field(
        120.0, gt=0, description="check-in: fastest plausible move between a team's check-ins"
    )
    visit_checkout_minutes: int = Field(
        60, ge=5, le=24 * 60, description="safety: alert when a visit is not checked out by then"
    )
    evidence_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, description="evidence: largest photo or recording (bytes)"
    )
    max_request_bytes: int = Field(
        25 * 1024 * 1024,
        ge=1024,
        description="largest request body (bytes); above it a 413 before the body is read",
    )
    max_broken_promises: int = Field(
        2, ge=1, le=20, description="after this many broken promises no new promise is taken"
    )
    jurisdiction: str = Field("cn", description="conduct-rule pack: cn (default), us or uk")
    rules_file: Path | None = Field(
        None, description="a deployment's TOML file overriding rule-pack parameters"
    )
    retention_personal_data_years: int = Field(
        5, ge=1, le=30, description="minimise personal data of closed cases after this many years"
    )
    # Workers (Celery): empty broker = the same tasks run in-process
    broker_url: str = Field(
        "",
        description="task broker, e.g. redis://127.0.0.1:6379/0 or "
        "amqp://guest:guest@127.0.0.1:5672//; empty: no workers, tasks run in-process",
    )
    result_backend: str = Field(
        "", description="task results; empty: the Redis broker itself, or rpc:// with AMQP"
    )
    task_queue: str = Field(
        "doorstep",
        pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
        description="the workers' queue; deployments sharing one broker each use their own",
    )
    delinquency_partitions: int = Field(
        4, ge=1, le=1024, description="delinquency batch on workers: partitions of the book"
    )
    task_timeout_seconds: float = Field(
        3600.0, gt=0, description="how long the batch waits for its partition tasks"
    )
    batch_time: time = Field(
        time(6, 0), description="serve --with-scheduler: the daily batch's local start (HH:MM)"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @field_validator("buckets")
    @classmethod
    def _valid_buckets(cls, value: str) -> str:
        BucketScheme.parse(value)
        return value

    @field_validator("waterfall")
    @classmethod
    def _valid_waterfall(cls, value: str) -> str:
        Waterfall.parse(value)
        return value

    @property
    def resolved_result_backend(self) -> str:
        if self.result_backend or not self.broker_url:
            return self.result_backend
        return self.broker_url if self.broker_url.startswith("redis") else "rpc://"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'doorstep.db'}"

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def bucket_scheme(self) -> BucketScheme:
        return BucketScheme.parse(self.buckets)

    @cached_property
    def waterfall_rule(self) -> Waterfall:
        return Waterfall.parse(self.waterfall, by_installment=self.waterfall_by_installment)

    @cached_property
    def rules_pack(self) -> Pack:
        """The effective conduct-rule pack; an unusable pack or override fails here, at start,
        naming the rule and the field. Built once per entry point (the app factory's
        `AppState.settings`, a CLI command's settings) and passed to the services as `pack`."""
        override = None
        if self.rules_file is not None:
            try:
                text = self.rules_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise PackError(str(self.rules_file), None, "rules_file", str(exc)) from None
            override = (self.rules_file.name, text)
        return _rule_pack(self.jurisdiction, override)

    @model_validator(mode="after")
    def _usable_rule_pack(self) -> Settings:
        self.rules_pack  # noqa: B018 - load it now: a broken pack stops the start
        return self

    @property
    def secrets_dir(self) -> Path:
        return self.var_dir / "secrets"

    @property
    def reports_dir(self) -> Path:
        return self.var_dir / "reports"
