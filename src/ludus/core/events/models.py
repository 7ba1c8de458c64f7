"""Outbox events (spec 000 §10.3), handler runs (idempotency) and dead letters."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ludus.core.kit.models import Base, IdMixin


class OutboxEvent(Base):
    """One event, written in the same transaction as the change it reports. Append-only."""

    __tablename__ = "event_outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # the spec's event_id
    event_type: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    version: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(100), nullable=False)
    # Null for platform events; visible to system scope only.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    event_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )


class HandlerRun(Base):
    """A handler's effects for an event committed (written in the handler's transaction)."""

    __tablename__ = "event_handler_runs"

    handler: Mapped[str] = mapped_column(String(150), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("event_outbox.id", ondelete="RESTRICT"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class DeadLetterStatus(enum.StrEnum):
    dead = "dead"  # out of tries; waiting for an admin
    replaying = "replaying"  # an admin re-queued it
    resolved = "resolved"  # a replay succeeded


class DeadLetter(IdMixin, Base):
    """A (handler, event) pair that failed every try."""

    __tablename__ = "event_dead_letters"
    __table_args__ = (UniqueConstraint("event_id", "handler"),)

    event_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("event_outbox.id", ondelete="RESTRICT"), nullable=False
    )
    handler: Mapped[str] = mapped_column(String(150), nullable=False)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    status: Mapped[DeadLetterStatus] = mapped_column(
        Enum(DeadLetterStatus, name="dead_letter_status", native_enum=False, length=16),
        nullable=False,
        index=True,
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    last_error: Mapped[str] = mapped_column(Text, nullable=False)
    replay_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    dead_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    replayed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
