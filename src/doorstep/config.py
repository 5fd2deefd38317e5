"""Settings from DOORSTEP_* environment variables, built once per entry point."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from functools import cached_property, lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from doorstep.domain.allocation import Waterfall
from doorstep.domain.credentials import SessionTimes
from doorstep.domain.delinquency import BucketScheme
from doorstep.domain.errors import PackError
from doorstep.domain.plan_terms import ArrearsPolicy
from doorstep.domain.rules import Pack
from doorstep.domain.rules import load as load_rule_pack


@lru_cache(maxsize=16)
def _rule_pack(jurisdiction: str, override: tuple[str, str] | None) -> Pack:
    """Packs are immutable and keyed here by everything they are built from, so this memo
    changes no result: it only spares parsing the same TOML for every Settings built (each
    CLI command and test builds its own)."""
    return load_rule_pack(jurisdiction, override)


def _networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """ "10.0.0.0/8, 127.0.0.1" as networks (a bare address is a network of one)."""
    return tuple(ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


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
        description="data keys for personal data, comma-separated, the first encrypts; "
        "empty: keys kept in secrets_dir (single-office installs and the demo)",
    )
    lookup_key: str = Field("", description="HMAC key for searching personal data")
    session_secret: str = Field(
        "", description="signs the sign-in form's cookie; empty: kept in secrets_dir"
    )
    audit_key: str = Field(
        "",
        description="signs the audit trail and its checkpoints (HMAC-SHA256); never stored in "
        "the database, not a data or lookup key; empty: kept in secrets_dir/audit.key",
    )
    audit_old_keys: str = Field(
        "",
        description="retired audit keys, comma-separated: the events and checkpoints they "
        "signed still verify",
    )
    audit_checkpoints: Path | None = Field(
        None,
        description="append-only file of signed checkpoints of the audit trail's head "
        "(write-once storage or another host); empty: secrets_dir/audit.checkpoints",
    )
    cipher: Literal["aes", "sm4"] = Field(
        "aes",
        description="personal data at rest: aes (Fernet, HMAC-SHA256) or sm4 (SM4-CBC, "
        "HMAC-SM3: 国密); values of either stay readable, rotate-keys moves them all",
    )
    secrets_dir: Path = Field(
        Path("secrets"),
        description="where keys are kept when not given in the environment; default: "
        "'secrets' beside var_dir, never inside it (a copy of var_dir holds no key)",
    )
    demo: bool = Field(False, description="a demo install: keys beside the data raise no warning")
    secure_cookies: bool = Field(False, description="send cookies over HTTPS only (behind TLS)")
    session_idle_minutes: int = Field(
        30, ge=1, le=24 * 60, description="a staff session ends after this long without a request"
    )
    session_hours: int = Field(
        12, ge=1, le=7 * 24, description="a staff session ends this long after sign-in"
    )
    trusted_proxies: str = Field(
        "",
        description="addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed, "
        "comma-separated; empty: none (the client address is the connection's)",
    )
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
    webhook_allow_private: bool = Field(
        False,
        description="webhooks: also allow plain http and loopback, private or link-local "
        "addresses (tests and development only; production sends https to public addresses)",
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
    plan_max_seconds: float = Field(
        60.0,
        gt=0,
        le=600,
        description="visit planning: the most solver seconds one request may ask for "
        "(a page or command asking for more is refused, naming this limit)",
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
    repayment_arrears: ArrearsPolicy = Field(
        ArrearsPolicy.SEPARATE,
        description="what a plan does with overdue interest, fees and penalty, which never bear "
        "interest (unless the rule pack allows capitalisation): separate (a balance without "
        "interest, repaid in equal parts with each payment) or waive",
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
    privacy_request_days: int = Field(
        15,
        ge=1,
        le=90,
        description="privacy requests: days to answer one (a policy setting: PIPL Arts 45 "
        "and 50 say 'timely' and give no figure)",
    )
    quality_sample: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="quality review: the share of submitted visits the auditors review",
    )
    quality_sample_key: str = Field(
        "",
        description="quality review: HMAC key that picks the sample (a visit's id alone "
        "tells no one whether it will be reviewed); empty: a plain hash",
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

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        _networks(value)
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
    def proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return _networks(self.trusted_proxies)

    @property
    def session_times(self) -> SessionTimes:
        return SessionTimes(
            idle=timedelta(minutes=self.session_idle_minutes),
            lifetime=timedelta(hours=self.session_hours),
        )

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
    def _plan_budgets_within_the_limit(self) -> Settings:
        for name in ("plan_seconds", "plan_edit_seconds"):
            if getattr(self, name) > self.plan_max_seconds:
                raise ValueError(f"{name} is above plan_max_seconds ({self.plan_max_seconds:g})")
        return self

    @model_validator(mode="after")
    def _usable_rule_pack(self) -> Settings:
        self.rules_pack  # noqa: B018 - load it now: a broken pack stops the start
        return self

    @model_validator(mode="after")
    def _secrets_beside_var(self) -> Settings:
        """Unless configured, the keys live in a sibling of var_dir: a backup or copy of
        the data folder (database, evidence, caches) carries no key."""
        if "secrets_dir" not in self.model_fields_set:
            self.secrets_dir = self.var_dir.absolute().parent / "secrets"
        return self

    @property
    def data_folders(self) -> list[Path]:
        """Where the data lives: var_dir, and the SQLite file's folder."""
        folders = [self.var_dir.absolute()]
        url = self.resolved_database_url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            folders.append(Path(url.removeprefix("sqlite:///")).absolute().parent)
        return folders

    @property
    def audit_checkpoint_file(self) -> Path:
        return self.audit_checkpoints or self.secrets_dir / "audit.checkpoints"

    @property
    def reports_dir(self) -> Path:
        return self.var_dir / "reports"
