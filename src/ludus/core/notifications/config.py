"""Notification settings: process defaults from `LUDUS_NOTIFY_*` variables, overridden per
tenant by `tenant.config["notifications"]`.

Tenant config shape (every key optional):

    {"channels": {"sms": "africastalking", "email": "smtp", ...},
     "smtp": {...}, "twilio": {...}, "africastalking": {...}, "fcm": {...},
     "quiet_hours": {"start": "21:00", "end": "07:00"}}

A secret may be stored encrypted as `<name>_enc` (ludus.core.kit.crypto, purpose
"notifications") instead of `<name>`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from ludus.core.kit import crypto
from ludus.core.notifications.models import Channel
from ludus.core.tenancy.models import Tenant

SECRET_PURPOSE = "notifications"


class NotifySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LUDUS_NOTIFY_", env_file=".env", extra="ignore")

    email_provider: str = "sandbox"
    sms_provider: str = "sandbox"
    whatsapp_provider: str = "sandbox"
    push_provider: str = "sandbox"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Ludus <no-reply@ludus.local>"
    smtp_starttls: bool = False
    smtp_ssl: bool = False

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_base_url: str = "https://api.twilio.com"

    africastalking_username: str | None = None
    africastalking_api_key: str | None = None
    africastalking_from: str | None = None
    africastalking_base_url: str = "https://api.africastalking.com"
    africastalking_callback_token: str | None = None

    fcm_project_id: str | None = None
    fcm_base_url: str = "https://fcm.googleapis.com"
    fcm_access_token: str | None = None
    fcm_service_account_file: str | None = None

    http_timeout_seconds: float = 10.0
    retry_max_attempts: int = 3
    retry_base_seconds: float = 30.0
    retry_factor: float = 2.0
    # A delivery claims its message for this long; a crashed worker's claim then expires.
    claim_seconds: float = 120.0


@lru_cache
def get_notify_settings() -> NotifySettings:
    return NotifySettings()


ENV_BLOCKS = ("smtp", "twilio", "africastalking", "fcm")


def tenant_block(tenant: Tenant | None) -> dict[str, Any]:
    if tenant is None:
        return {}
    block = (tenant.config or {}).get("notifications") or {}
    return block if isinstance(block, dict) else {}


def provider_name(tenant: Tenant | None, channel: Channel) -> str:
    if channel == Channel.in_app:
        return "in_app"
    chosen = (tenant_block(tenant).get("channels") or {}).get(channel.value)
    if chosen:
        return str(chosen)
    return str(getattr(get_notify_settings(), f"{channel.value}_provider"))


def provider_config(tenant: Tenant | None, provider: str) -> dict[str, Any]:
    """Environment defaults for `provider`, with the tenant's own values on top."""
    settings = get_notify_settings().model_dump()
    prefix = provider + "_"
    merged: dict[str, Any] = {
        key[len(prefix) :]: value
        for key, value in settings.items()
        if key.startswith(prefix) and value is not None
    }
    own = tenant_block(tenant).get(provider) or {}
    for key, value in own.items():
        if key.endswith("_enc") and isinstance(value, str):
            merged[key[:-4]] = crypto.decrypt(value, purpose=SECRET_PURPOSE)
        elif value is not None:
            merged[key] = value
    merged.setdefault("timeout", get_notify_settings().http_timeout_seconds)
    return merged


def encrypt_secret(value: str) -> str:
    """Seal a provider secret for storage in tenant config as `<name>_enc`."""
    return crypto.encrypt(value, purpose=SECRET_PURPOSE)
