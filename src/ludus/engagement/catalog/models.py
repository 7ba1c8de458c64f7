"""Reward catalog items (owned by a partner tenant, visible to some or all tenants) and
redemptions (owned by the redeeming user's tenant) with their state transitions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from ludus.core.kit.models import Base, IdMixin, TenantMixin, TimestampMixin

SEARCH_EXPR = "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))"


class CatalogItem(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "engagement_catalog_items"
    __table_args__ = (
        CheckConstraint("stock >= -1", name="stock"),
        CheckConstraint("coin_cost > 0", name="coin_cost"),
        Index("ix_engagement_catalog_items_search", "search", postgresql_using="gin"),
    )

    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    image_url: Mapped[str | None] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(32), nullable=False)
    coin_cost: Mapped[int] = mapped_column(BigInteger, nullable=False)
    face_value: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    face_currency: Mapped[str] = mapped_column(String(8), default="USD", nullable=False)
    stock: Mapped[int] = mapped_column(Integer, default=-1, nullable=False)  # -1 unlimited
    fulfillment_type: Mapped[str] = mapped_column(String(32), nullable=False)
    partner_item_ref: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    # Null: every tenant sees it; else only the listed tenants (and the owner).
    visible_tenant_ids: Mapped[list[uuid.UUID] | None] = mapped_column(ARRAY(Uuid))
    search: Mapped[Any] = mapped_column(TSVECTOR, Computed(SEARCH_EXPR, persisted=True))


class Redemption(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "engagement_redemptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "idempotency_key"),
        Index("ix_engagement_redemptions_user_created", "tenant_id", "user_id", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    item_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("engagement_catalog_items.id", ondelete="RESTRICT"), nullable=False
    )
    partner_tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    coin_cost: Mapped[int] = mapped_column(BigInteger, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    hold_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    fulfillment_details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    partner_redemption_id: Mapped[str | None] = mapped_column(String(100))
    delivery_email: Mapped[str | None] = mapped_column(String(320))
    delivery_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    fulfilled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RedemptionTransition(IdMixin, TenantMixin, Base):
    """Append-only history of a redemption's states."""

    __tablename__ = "engagement_redemption_transitions"

    redemption_id: Mapped[uuid.UUID] = mapped_column(
        Uuid,
        ForeignKey("engagement_redemptions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
