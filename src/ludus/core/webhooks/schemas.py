"""Request and response bodies of the webhook APIs."""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ludus.core.kit.schemas import InputSchema, Schema
from ludus.core.webhooks.models import DeliveryStatus, InboundStatus

_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?)$")


def _check_patterns(value: list[str]) -> list[str]:
    for pattern in value:
        if not _PATTERN.match(pattern):
            raise ValueError(f"{pattern!r} is not an event type, 'prefix.*' or '*'")
    return value


class SubscriptionCreate(InputSchema):
    url: str = Field(min_length=8, max_length=2000)
    event_types: list[str] = Field(min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500)

    @field_validator("event_types")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return _check_patterns(value)


class SubscriptionUpdate(InputSchema):
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = None

    @field_validator("event_types")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _check_patterns(value)


class SubscriptionOut(Schema):
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="Signing secret. Shown only once; store it now.")


class SecretOut(BaseModel):
    id: uuid.UUID
    secret: str


class DeliveryOut(Schema):
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


class AttemptOut(Schema):
    attempt: int
    status_code: int | None
    latency_ms: int
    error: str | None
    created_at: datetime


class DeliveryDetail(DeliveryOut):
    log: list[AttemptOut]


class ProviderOptions(InputSchema):
    allowed_ips: list[str] | None = Field(default=None, max_length=100)
    signature_header: str | None = Field(default=None, max_length=100)
    public_url: str | None = Field(default=None, max_length=2000)
    tolerance_seconds: int | None = Field(default=None, ge=1, le=3600)

    @field_validator("allowed_ips")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        for entry in value or []:
            ipaddress.ip_network(entry, strict=False)
        return value


class ProviderConfigIn(InputSchema):
    secret: str = Field(min_length=8, max_length=500)
    options: ProviderOptions = Field(default_factory=ProviderOptions)
    active: bool = True


class ProviderConfigOut(Schema):
    provider: str
    options: dict[str, Any]
    active: bool
    callback_url: str
    created_at: datetime
    updated_at: datetime


class InboundOut(Schema):
    id: uuid.UUID
    provider: str
    provider_event_id: str
    event_type: str | None
    status: InboundStatus
    attempts: int
    last_error: str | None
    source_ip: str | None
    received_at: datetime
    processed_at: datetime | None


class InboundAck(BaseModel):
    id: uuid.UUID | None
    duplicate: bool
