"""PaYa settings: per-tenant rules (tenant.config["paya"]) and process-wide provider settings.

Defaults follow the spec's MVP fraud rules; a tenant overrides any of them in its config.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ASSET = "TOKEN"


class Limits(BaseModel):
    model_config = ConfigDict(extra="ignore")

    max_transfer: int = Field(1000, ge=1)
    sends_per_hour: int = Field(10, ge=1)
    sends_per_day: int = Field(50, ge=1)
    unique_recipients_per_day: int = Field(20, ge=1)
    max_load_per_week: int = Field(2000, ge=1)
    max_memo_length: int = Field(140, ge=0, le=280)


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cooling_period_days: int = Field(7, ge=0)
    # During the cooling period a new account may send at most this much per day.
    cooling_daily_send_limit: int = Field(100, ge=0)
    first_week_max_load: int = Field(100, ge=0)
    no_redeem_days: int = Field(14, ge=0)


class FraudRules(BaseModel):
    model_config = ConfigDict(extra="ignore")

    repeat_recipient_per_hour: int = Field(5, ge=2)
    mule_unique_senders_24h: int = Field(10, ge=2)
    circular_window_hours: int = Field(24, ge=1)
    load_then_send_minutes: int = Field(60, ge=1)
    private_only_min_payments: int = Field(5, ge=1)
    private_only_window_days: int = Field(7, ge=1)


class Rewards(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ops_allocation_bps: int = Field(2000, ge=0, le=10_000)  # share of the pool kept for ops
    min_weekly_payments: int = Field(1, ge=0)  # payments sent in the week to count as active
    min_account_age_days: int = Field(7, ge=0)
    payout_batch_size: int = Field(1000, ge=1)


class PayaConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limits: Limits = Field(default_factory=Limits)
    new_account: NewAccount = Field(default_factory=NewAccount)
    fraud: FraudRules = Field(default_factory=FraudRules)
    rewards: Rewards = Field(default_factory=Rewards)
    feed_show_amounts: bool = False
    # Busy merchants: payments to them go to a sharded incoming account (accounts.py).
    hot_recipients: list[str] = Field(default_factory=list, max_length=1000)

    @field_validator("hot_recipients")
    @classmethod
    def _usernames(cls, value: list[str]) -> list[str]:
        return [name.strip().removeprefix("@").lower() for name in value]


def tenant_config(config: dict[str, Any] | None) -> PayaConfig:
    return PayaConfig.model_validate((config or {}).get("paya") or {})


class PayaSettings(BaseSettings):
    """Provider wiring for this process (LUDUS_PAYA_* environment variables)."""

    model_config = SettingsConfigDict(env_prefix="LUDUS_PAYA_", env_file=".env", extra="ignore")

    providers: str = "sandbox"  # "sandbox" or "http"
    sandbox_settle_seconds: float = 5.0
    plaid_base_url: str = "https://sandbox.plaid.com"
    plaid_client_id: str = ""
    plaid_secret: str = ""
    dwolla_base_url: str = "https://api-sandbox.dwolla.com"
    dwolla_key: str = ""
    dwolla_secret: str = ""
    dwolla_fbo_funding_source: str = "fbo-sandbox"
    dwolla_webhook_secret: str = "paya-dwolla-webhook-secret"
    http_timeout_seconds: float = 10.0
    breaker_failures: int = 3
    breaker_reset_seconds: float = 30.0
    retry_backoff_seconds: float = 60.0
    poll_seconds: float = 30.0  # how often a pending ACH transfer is checked without a webhook


@lru_cache
def get_paya_settings() -> PayaSettings:
    return PayaSettings()
