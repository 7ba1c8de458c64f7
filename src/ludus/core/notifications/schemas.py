"""Notification request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from ludus.core.kit.schemas import InputSchema, Schema
from ludus.core.notifications.models import Channel, MessageStatus

Kind = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*)$", max_length=64)]
TemplateKey = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{1,100}$")]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")]


class InboxMessageOut(Schema):
    id: uuid.UUID
    kind: str
    subject: str | None
    body: str
    read_at: datetime | None
    created_at: datetime


class UnreadCountOut(Schema):
    count: int


class ReadAllOut(Schema):
    updated: int


class MessageOut(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID | None
    channel: Channel
    kind: str
    recipient: str
    subject: str | None
    body: str
    status: MessageStatus
    provider: str | None
    provider_message_id: str | None
    attempts: int
    error: str | None
    template_key: str | None
    locale: str | None
    data: dict[str, Any]
    next_attempt_at: datetime | None
    sent_at: datetime | None
    read_at: datetime | None
    created_at: datetime


class PreferenceIn(InputSchema):
    kind: Kind
    channel: Channel
    enabled: bool


class QuietHoursIn(InputSchema):
    start: time | None = None
    end: time | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> QuietHoursIn:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither to turn quiet hours off")
        return self


class PreferencesUpdate(InputSchema):
    preferences: list[PreferenceIn] = Field(default_factory=list, max_length=100)
    quiet_hours: QuietHoursIn | None = None


class PreferenceOut(Schema):
    kind: str
    channel: Channel
    enabled: bool


class PreferencesOut(Schema):
    preferences: list[PreferenceOut]
    quiet_hours: QuietHoursIn | None
    timezone: str


class DeviceIn(InputSchema):
    token: str = Field(min_length=10, max_length=320)
    platform: str = Field(pattern=r"^(android|ios|web)$")


class DeviceOut(Schema):
    id: uuid.UUID
    token: str
    platform: str
    created_at: datetime


class TemplateIn(InputSchema):
    key: TemplateKey
    channel: Channel
    locale: Locale
    subject: str | None = Field(default=None, max_length=2000)
    body: str = Field(min_length=1, max_length=50_000)


class TemplateOut(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    key: str
    channel: Channel
    locale: str
    subject: str | None
    body: str
    updated_at: datetime


class CallbackOut(Schema):
    recorded: bool
