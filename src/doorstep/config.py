"""Settings from DOORSTEP_* environment variables, built once per entry point."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from doorstep.domain.allocation import Waterfall
from doorstep.domain.delinquency import BucketScheme


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

    @property
    def secrets_dir(self) -> Path:
        return self.var_dir / "secrets"

    @property
    def reports_dir(self) -> Path:
        return self.var_dir / "reports"
