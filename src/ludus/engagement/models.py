"""Engagement tables: profiles (XP, level), streaks, badges, activity facts, social, referrals.

User ids are plain UUID columns (no FK to users) on the high-volume tables so bulk loads and
leaderboards stay cheap; the relational tables reference `users`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ludus.core.kit.models import Base, IdMixin, TenantMixin, TimestampMixin

PRODUCT_LEN = 32


class Profile(IdMixin, TenantMixin, TimestampMixin, Base):
    """Lifetime XP and level of one user in one product of one tenant."""

    __tablename__ = "engagement_profiles"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "product"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    product: Mapped[str] = mapped_column(String(PRODUCT_LEN), nullable=False)
    lifetime_xp: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    level: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # Facts the level table's extra conditions read (e.g. {"net_worth": 20000}).
    facts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)


class Streak(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "engagement_streaks"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "product"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    product: Mapped[str] = mapped_column(String(PRODUCT_LEN), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    current: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    longest: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_period: Mapped[date | None] = mapped_column(Date)
    last_action_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shield_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shield_bought_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    broken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    broken_length: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    insured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Instant after which the streak is broken unless an action happens first.
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class Activity(TenantMixin, Base):
    """One ingested event per row; the unique event id makes delivery exactly-once."""

    __tablename__ = "engagement_activity"
    __table_args__ = (
        Index("ix_engagement_activity_lookup", "tenant_id", "user_id", "event_type", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    product: Mapped[str] = mapped_column(String(PRODUCT_LEN), nullable=False)
    event_type: Mapped[str] = mapped_column(String(100), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class EarnCounter(TenantMixin, Base):
    """Coins/points earned per user per bucket (day or minute), for caps and velocity checks."""

    __tablename__ = "engagement_earn_counters"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    asset: Mapped[str] = mapped_column(String(16), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(8), primary_key=True)  # day | minute
    bucket_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class Badge(IdMixin, TimestampMixin, Base):
    """A badge definition: global (tenant_id null) or one tenant's own."""

    __tablename__ = "engagement_badges"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint("rarity IN ('common', 'rare', 'epic', 'legendary')", name="rarity"),
        # Global badges (tenant_id null) share one code space.
        Index(
            "uq_engagement_badges_global_code",
            "code",
            unique=True,
            postgresql_where=text("tenant_id IS NULL"),
        ),
    )

    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tenants.id", ondelete="RESTRICT"), index=True
    )
    product: Mapped[str | None] = mapped_column(String(PRODUCT_LEN))
    code: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    icon_url: Mapped[str | None] = mapped_column(String(500))
    rarity: Mapped[str] = mapped_column(String(16), nullable=False)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    repeatable: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    coin_reward: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    xp_reward: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)


class UserBadge(IdMixin, TenantMixin, Base):
    __tablename__ = "engagement_user_badges"
    # seq is 1 for one-off badges, so the unique constraint awards them at most once.
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "badge_id", "seq"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    badge_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagement_badges.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    earned_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Friendship(IdMixin, TenantMixin, TimestampMixin, Base):
    """One row per unordered pair: user_a is the lower UUID (spec 000 friendships)."""

    __tablename__ = "engagement_friendships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_a", "user_b"),
        CheckConstraint("user_a < user_b", name="ordered_pair"),
    )

    user_a: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_b: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # pending|accepted|blocked
    initiated_by: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    blocked_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Classroom(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "engagement_classrooms"

    teacher_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="RESTRICT"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    join_code: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)


class Team(IdMixin, TenantMixin, Base):
    """A team inside a classroom or a group challenge."""

    __tablename__ = "engagement_teams"

    classroom_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("engagement_classrooms.id", ondelete="CASCADE"), index=True
    )
    challenge_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class ClassroomMember(IdMixin, TenantMixin, Base):
    __tablename__ = "engagement_classroom_members"
    __table_args__ = (UniqueConstraint("classroom_id", "user_id"),)

    classroom_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagement_classrooms.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("engagement_teams.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    joined_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class ReferralCode(IdMixin, TenantMixin, Base):
    __tablename__ = "engagement_referral_codes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        UniqueConstraint("tenant_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Referral(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "engagement_referrals"
    # A person is referred at most once per tenant.
    __table_args__ = (UniqueConstraint("tenant_id", "referee_id"),)

    referrer_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    referee_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # pending|confirmed|rewarded
    device_id: Mapped[str | None] = mapped_column(String(128), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rewarded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
