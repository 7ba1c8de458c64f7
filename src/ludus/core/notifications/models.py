"""Notification records: outgoing messages on every channel (the sandbox provider's record is
this table), templates, per-user preferences and quiet hours, and push device tokens."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ludus.core.kit.models import Base, IdMixin, TenantMixin, TimestampMixin


class Channel(enum.StrEnum):
    in_app = "in_app"
    email = "email"
    sms = "sms"
    whatsapp = "whatsapp"
    push = "push"


class MessageStatus(enum.StrEnum):
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    skipped = "skipped"


def _channel_column(nullable: bool = False) -> Any:
    return mapped_column(
        Enum(Channel, name="notification_channel", native_enum=False, length=16),
        nullable=nullable,
    )


class NotificationMessage(IdMixin, TenantMixin, Base):
    __tablename__ = "notification_messages"
    __table_args__ = (
        Index(
            "ix_notification_messages_provider_provider_message_id",
            "provider",
            "provider_message_id",
        ),
        Index(
            "ix_notification_messages_next_attempt_at",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
        ),
        Index(
            "ix_notification_messages_tenant_id_user_id_created_at",
            "tenant_id",
            "user_id",
            "created_at",
            postgresql_where=text("channel = 'in_app'"),
        ),
        Index(
            "uq_notification_messages_tenant_id_dedupe_key_channel_recipient",
            "tenant_id",
            "dedupe_key",
            "channel",
            "recipient",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    channel: Mapped[Channel] = _channel_column()
    kind: Mapped[str] = mapped_column(String(64), nullable=False)  # otp, receipt, reminder, ...
    recipient: Mapped[str] = mapped_column(String(320), nullable=False)
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    status: Mapped[MessageStatus] = mapped_column(
        Enum(MessageStatus, name="notification_status", native_enum=False, length=16),
        nullable=False,
    )
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )
    # When a queued message may next be tried: quiet-hours deferral, retry backoff, or the
    # lease of a delivery in progress.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    template_key: Mapped[str | None] = mapped_column(String(100))
    locale: Mapped[str | None] = mapped_column(String(16))
    # Callers that may run twice (event handlers) pass e.g. the event id; one row per recipient.
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    status_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationTemplate(IdMixin, TimestampMixin, Base):
    """A subject/body pair per (key, channel, locale); tenant_id NULL is the platform default."""

    __tablename__ = "notification_templates"
    __table_args__ = (
        Index(
            "uq_notification_templates_tenant_id_key_channel_locale",
            "tenant_id",
            "key",
            "channel",
            "locale",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
    )

    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(100), nullable=False)
    channel: Mapped[Channel] = _channel_column()
    locale: Mapped[str] = mapped_column(String(16), nullable=False)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, nullable=False)


class NotificationPreference(IdMixin, TenantMixin, TimestampMixin, Base):
    """A user's choice for one kind ('*' = every kind) on one channel; absent = enabled."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "kind", "channel"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[Channel] = _channel_column()
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)


class NotificationSettings(TimestampMixin, Base):
    """Per-user quiet hours, in the user's own timezone."""

    __tablename__ = "notification_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)


class PushDevice(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "notification_push_devices"
    __table_args__ = (UniqueConstraint("tenant_id", "token"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token: Mapped[str] = mapped_column(String(320), nullable=False)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)
