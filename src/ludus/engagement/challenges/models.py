"""Challenges (spec 000 weekly/monthly/seasonal/classroom/head-to-head and spec 001
fixed-amount/percentage/streak/group), participants and their contributions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ludus.core.kit.models import Base, IdMixin, TenantMixin, TimestampMixin


class Challenge(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "engagement_challenges"

    product: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    # Which events count and how (event_types, target, period, ...).
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    scoring: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    rewards: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    classroom_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    sponsor_tenant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    max_participants: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="upcoming", nullable=False)
    results: Mapped[list[Any] | None] = mapped_column(JSONB)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Participant(IdMixin, TenantMixin, Base):
    __tablename__ = "engagement_challenge_participants"
    __table_args__ = (UniqueConstraint("challenge_id", "user_id"),)

    challenge_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagement_challenges.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    baseline: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    score: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    total: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    completed: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    rank: Mapped[int | None] = mapped_column(Integer)
    reward_coins: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    reward_paid: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    reached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Contribution(TenantMixin, Base):
    """An event that counted toward a challenge; the event id makes it count once."""

    __tablename__ = "engagement_challenge_contributions"
    __table_args__ = (
        UniqueConstraint("challenge_id", "event_id"),
        # A participant's contributions (rescoring), engage_0002.
        Index(None, "challenge_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    challenge_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagement_challenges.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
