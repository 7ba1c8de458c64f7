"""PaYa tables. Token amounts are whole tokens (asset TOKEN, scale 0); ledger rows are
referenced by plain UUID columns (no foreign keys into the ledger module)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Profile(IdMixin, TenantMixin, TimestampMixin, Base):
    """A PaYa member: @username, wallet and account state."""

    __tablename__ = "paya_profiles"
    # The migration also adds a text_pattern_ops index on username_key for prefix search.
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        UniqueConstraint("tenant_id", "username_key"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    username: Mapped[str] = mapped_column(String(20), nullable=False)
    username_key: Mapped[str] = mapped_column(String(20), nullable=False)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    bio: Mapped[str | None] = mapped_column(String(160))
    wallet_account_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)
    frozen_reason: Mapped[str | None] = mapped_column(String(500))
    ineligible_until: Mapped[date | None] = mapped_column(Date)
    dwolla_customer_id: Mapped[str | None] = mapped_column(String(128))
    # Send counters (paya_0004), kept by paya_send under the profile lock: the limits'
    # rolling windows are computed from them and the payments' sender_seq / sender_cum.
    sent_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    sent_amount: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_public_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BankLink(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "paya_bank_links"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    item_id: Mapped[str] = mapped_column(String(128), nullable=False)
    access_token_enc: Mapped[str] = mapped_column(Text, nullable=False)
    account_id: Mapped[str] = mapped_column(String(128), nullable=False)
    account_name: Mapped[str] = mapped_column(String(200), nullable=False)
    mask: Mapped[str] = mapped_column(String(8), nullable=False)
    owner_names: Mapped[list[str]] = mapped_column(JSONB, default=list, nullable=False)
    funding_source_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(32), default="linked", nullable=False)


class Movement(IdMixin, TenantMixin, TimestampMixin, Base):
    """A load (ACH pull) or redeem (ACH push) and where it stands with the provider."""

    __tablename__ = "paya_movements"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id", "idempotency_key"),
        Index("ix_paya_movements_status_next", "status", "next_attempt_at"),
        Index("ix_paya_movements_tenant_id_user_id_created_at", "tenant_id", "user_id",
              "created_at"),
    )  # fmt: skip

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # load | redeem
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # queued → pending → settled | returned | failed
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    bank_link_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("paya_bank_links.id", ondelete="RESTRICT"), nullable=False
    )
    provider_transfer_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    hold_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # load: pending tokens
    lock_tx_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # redeem: wallet → clearing
    ledger_tx_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # load posted / redeem burn
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Payment(IdMixin, TenantMixin, Base):
    """A P2P transfer (append-only)."""

    __tablename__ = "paya_payments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sender_id", "idempotency_key"),
        Index("ix_paya_payments_tenant_id_sender_id_created_at", "tenant_id", "sender_id",
              "created_at"),
        Index("ix_paya_payments_tenant_id_recipient_id_created_at", "tenant_id",
              "recipient_id", "created_at"),
        Index("ix_paya_payments_public_feed", "tenant_id", "created_at",
              postgresql_where=text("public")),
    )  # fmt: skip

    sender_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    recipient_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    sender_username: Mapped[str] = mapped_column(String(20), nullable=False)
    recipient_username: Mapped[str] = mapped_column(String(20), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    memo: Mapped[str] = mapped_column(String(280), default="", nullable=False)
    public: Mapped[bool] = mapped_column(Boolean, nullable=False)
    ledger_tx_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _created()
    sender_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)  # the sender's 1, 2, …
    sender_cum: Mapped[int] = mapped_column(BigInteger, nullable=False)  # running total, incl.
    # paya_pairs (migrations paya_0004/0005, written only by paya_send, no ORM class): one
    # row per (tenant, sender, recipient) with the latest payment (time, id, amount, public),
    # for the distinct-recipient limit and the money-mule rule.


class Flag(IdMixin, TenantMixin, Base):
    """A reason to review an account: raised by a fraud rule or by an admin."""

    __tablename__ = "paya_flags"
    __table_args__ = (
        Index(
            "uq_paya_flags_open_rule",
            "tenant_id",
            "user_id",
            "rule",
            unique=True,
            postgresql_where=text("resolved_at IS NULL AND source = 'rule'"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    rule: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # rule | admin
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    created_at: Mapped[datetime] = _created()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Revenue(IdMixin, TenantMixin, Base):
    """Revenue that reached the bank account, booked into the revenue pool for a week."""

    __tablename__ = "paya_revenue"
    __table_args__ = (UniqueConstraint("tenant_id", "idempotency_key"),)

    week_start: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    source: Mapped[str] = mapped_column(String(100), nullable=False)
    ledger_tx_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = _created()


class Distribution(IdMixin, TenantMixin, Base):
    """One week's reward distribution; unique per (tenant, week) so it happens once."""

    __tablename__ = "paya_distributions"
    __table_args__ = (UniqueConstraint("tenant_id", "week_start"),)

    week_start: Mapped[date] = mapped_column(Date, nullable=False)
    revenue: Mapped[int] = mapped_column(BigInteger, nullable=False)
    carry_in: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pool: Mapped[int] = mapped_column(BigInteger, nullable=False)
    ops_amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    share: Mapped[int] = mapped_column(BigInteger, nullable=False)
    eligible_count: Mapped[int] = mapped_column(Integer, nullable=False)
    remainder: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # paying | completed
    ops_tx_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = _created()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Payout(IdMixin, TenantMixin, Base):
    __tablename__ = "paya_payouts"
    __table_args__ = (UniqueConstraint("distribution_id", "user_id"),)

    distribution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("paya_distributions.id", ondelete="RESTRICT"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)
    ledger_tx_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReserveSnapshot(IdMixin, TenantMixin, Base):
    """Daily reconciliation result (append-only)."""

    __tablename__ = "paya_reserve_snapshots"

    taken_at: Mapped[datetime] = _created()
    reserve: Mapped[int] = mapped_column(BigInteger, nullable=False)
    circulation: Mapped[int] = mapped_column(BigInteger, nullable=False)
    bank_balance: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pending_loads: Mapped[int] = mapped_column(BigInteger, nullable=False)
    active_users: Mapped[int] = mapped_column(Integer, nullable=False)
    matched: Mapped[bool] = mapped_column(Boolean, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
