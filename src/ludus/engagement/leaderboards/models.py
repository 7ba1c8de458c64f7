"""Leaderboard entries for the PostgreSQL backend: one row per board, period and member."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from ludus.core.kit.models import Base, TenantMixin


class LeaderboardEntry(TenantMixin, Base):
    __tablename__ = "engagement_leaderboard_entries"
    # Ranking order is (score desc, reached_at asc, member_id asc); neg_score turns it into
    # one ascending row comparison that a single index range answers.
    __table_args__ = (
        Index(
            "ix_engagement_leaderboard_entries_rank",
            "tenant_id",
            "board",
            "period",
            "neg_score",
            "reached_at",
            "member_id",
        ),
    )

    board: Mapped[str] = mapped_column(String(120), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    neg_score: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reached_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class LeaderboardCount(TenantMixin, Base):
    """How many members of a board have a score in each bucket (see `base.bucket`): rank of
    me = members in higher buckets (a short sum) + members ahead inside my bucket."""

    __tablename__ = "engagement_leaderboard_counts"

    board: Mapped[str] = mapped_column(String(120), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False)
