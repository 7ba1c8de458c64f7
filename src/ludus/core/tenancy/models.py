"""Tenants: one branded white-label deployment (a bank, chama, café, family app, network)."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ludus.core.kit.models import Base, IdMixin, TimestampMixin


class TenantKind(enum.StrEnum):
    bank_partner = "bank_partner"
    chama = "chama"
    sacco = "sacco"
    mfi = "mfi"
    business = "business"
    family_app = "family_app"
    payment_network = "payment_network"
    platform = "platform"


class TenantStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"


class Product(enum.StrEnum):
    moneylife = "moneylife"
    savings = "savings"
    paya = "paya"
    loyalty = "loyalty"
    classify = "classify"


class Tenant(IdMixin, TimestampMixin, Base):
    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[TenantKind] = mapped_column(
        Enum(TenantKind, name="tenant_kind", native_enum=False, length=32), nullable=False
    )
    status: Mapped[TenantStatus] = mapped_column(
        Enum(TenantStatus, name="tenant_status", native_enum=False, length=16),
        default=TenantStatus.active,
        nullable=False,
    )
    theme: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    features: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, nullable=False)
    products: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list, nullable=False)
    default_locale: Mapped[str] = mapped_column(String(16), default="en", nullable=False)
    currency: Mapped[str] = mapped_column(String(8), default="USD", nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", nullable=False)

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.active
