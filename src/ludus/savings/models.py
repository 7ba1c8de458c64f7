"""Savings product tables: org settings, members, M-Pesa callbacks, STK requests, deposits,
and the daily analytics summaries. Every table is tenant-scoped (the tenant is the org)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ludus.core.kit.models import Base, IdMixin, TenantMixin, TimestampMixin


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=24)


class SubscriptionTier(enum.StrEnum):
    free = "free"
    basic = "basic"
    pro = "pro"
    enterprise = "enterprise"


class SubscriptionStatus(enum.StrEnum):
    trial = "trial"
    active = "active"
    past_due = "past_due"
    cancelled = "cancelled"


class MemberStatus(enum.StrEnum):
    active = "active"
    deactivated = "deactivated"


class MemberRole(enum.StrEnum):
    admin = "admin"
    member = "member"


class CallbackKind(enum.StrEnum):
    c2b_validation = "c2b_validation"
    c2b_confirmation = "c2b_confirmation"
    stk_result = "stk_result"


class CallbackStatus(enum.StrEnum):
    received = "received"
    processed = "processed"
    failed = "failed"


class StkStatus(enum.StrEnum):
    initiated = "initiated"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    timeout = "timeout"


class DepositStatus(enum.StrEnum):
    verified = "verified"  # matched to a member when it arrived
    suspense = "suspense"  # no member matched; waiting in the admin queue
    matched = "matched"  # was in suspense, an admin assigned it to a member


class SavingsOrg(IdMixin, TenantMixin, TimestampMixin, Base):
    """The savings settings of one organization (tenant): branding, plan, M-Pesa, accounts."""

    __tablename__ = "savings_orgs"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    branding: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    logo_key: Mapped[str | None] = mapped_column(String(200))
    subscription_tier: Mapped[SubscriptionTier] = mapped_column(
        _enum(SubscriptionTier, "savings_tier"), default=SubscriptionTier.free, nullable=False
    )
    subscription_status: Mapped[SubscriptionStatus] = mapped_column(
        _enum(SubscriptionStatus, "savings_sub_status"),
        default=SubscriptionStatus.trial,
        nullable=False,
    )
    # Daraja credentials (consumer key/secret, passkey, ...) sealed with AES-GCM.
    mpesa_config_enc: Mapped[str | None] = mapped_column(Text)
    mpesa_shortcode: Mapped[str | None] = mapped_column(String(20))
    mpesa_environment: Mapped[str] = mapped_column(String(16), default="sandbox", nullable=False)
    callback_token_enc: Mapped[str | None] = mapped_column(Text)
    callback_allowed_ips: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), default=list, nullable=False
    )
    clearing_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # True while a drain job for this org's callbacks is queued and not yet started.
    drain_scheduled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    suspense_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Member(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "savings_members"
    __table_args__ = (
        UniqueConstraint("tenant_id", "phone"),
        UniqueConstraint("tenant_id", "account_ref"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    phone: Mapped[str] = mapped_column(String(20), nullable=False)  # E.164
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))
    # What members type as the paybill "account number".
    account_ref: Mapped[str] = mapped_column(String(20), nullable=False)
    role: Mapped[MemberRole] = mapped_column(
        _enum(MemberRole, "savings_member_role"), default=MemberRole.member, nullable=False
    )
    status: Mapped[MemberStatus] = mapped_column(
        _enum(MemberStatus, "savings_member_status"), default=MemberStatus.active, nullable=False
    )
    savings_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    referred_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MpesaCallback(IdMixin, TenantMixin, Base):
    """Every verified callback, stored raw; a redelivery only bumps `deliveries`."""

    __tablename__ = "savings_mpesa_callbacks"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "dedup_key"),)

    kind: Mapped[CallbackKind] = mapped_column(_enum(CallbackKind, "savings_cb_kind"))
    dedup_key: Mapped[str] = mapped_column(String(64), nullable=False)
    raw_body: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    source_ip: Mapped[str | None] = mapped_column(String(64))
    deliveries: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    status: Mapped[CallbackStatus] = mapped_column(
        _enum(CallbackStatus, "savings_cb_status"), default=CallbackStatus.received, nullable=False
    )
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StkRequest(IdMixin, TenantMixin, TimestampMixin, Base):
    __tablename__ = "savings_stk_requests"
    __table_args__ = (UniqueConstraint("tenant_id", "checkout_request_id"),)

    checkout_request_id: Mapped[str] = mapped_column(String(64), nullable=False)
    merchant_request_id: Mapped[str | None] = mapped_column(String(64))
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[StkStatus] = mapped_column(
        _enum(StkStatus, "savings_stk_status"), default=StkStatus.initiated, nullable=False
    )
    result_code: Mapped[int | None] = mapped_column(Integer)
    result_desc: Mapped[str | None] = mapped_column(String(300))
    receipt: Mapped[str | None] = mapped_column(String(32))


class Deposit(IdMixin, TenantMixin, TimestampMixin, Base):
    """A verified M-Pesa payment (the spec's `transactions`); one row per M-Pesa receipt."""

    __tablename__ = "savings_deposits"
    __table_args__ = (UniqueConstraint("tenant_id", "receipt"),)

    receipt: Mapped[str] = mapped_column(String(32), nullable=False)  # TransID
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    amount: Mapped[int] = mapped_column(BigInteger, nullable=False)  # KES cents
    source: Mapped[str] = mapped_column(String(8), nullable=False)  # c2b | stk
    status: Mapped[DepositStatus] = mapped_column(
        _enum(DepositStatus, "savings_deposit_status"), nullable=False
    )
    msisdn: Mapped[str | None] = mapped_column(String(64))
    bill_ref: Mapped[str | None] = mapped_column(String(64))
    checkout_request_id: Mapped[str | None] = mapped_column(String(64))
    transacted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ledger_tx_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    match_tx_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    matched_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    matched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DailyStats(TenantMixin, Base):
    """One org-day of pre-computed analytics (written by the daily job)."""

    __tablename__ = "savings_daily_stats"
    __table_args__ = (UniqueConstraint("tenant_id", "day"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    members: Mapped[int] = mapped_column(Integer, nullable=False)
    new_members: Mapped[int] = mapped_column(Integer, nullable=False)
    active_savers: Mapped[int] = mapped_column(Integer, nullable=False)  # deposited that day
    deposits: Mapped[int] = mapped_column(Integer, nullable=False)
    amount_saved: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_saved: Mapped[int] = mapped_column(BigInteger, nullable=False)  # running, to day end
    engagement: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
