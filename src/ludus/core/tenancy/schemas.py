"""Tenant schemas: the spec's theme fields (000 §12.3) and feature flags (§12.2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from ludus.core.kit.schemas import InputSchema, Schema
from ludus.core.tenancy.models import Product, TenantKind, TenantStatus

HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
Url = Annotated[str, StringConstraints(max_length=500, pattern=r"^(https?://|/)\S+$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]


class Theme(InputSchema):
    brand_name: str | None = Field(default=None, max_length=120)
    primary_color: HexColor | None = None
    secondary_color: HexColor | None = None
    accent_color: HexColor | None = None
    background_color: HexColor | None = None
    text_primary: HexColor | None = None
    text_secondary: HexColor | None = None
    font_family: str | None = Field(default=None, max_length=80)
    logo_url: Url | None = None
    icon_url: Url | None = None
    splash_image_url: Url | None = None
    coin_name: str | None = Field(default=None, max_length=40)
    coin_icon_url: Url | None = None


class Features(InputSchema):
    banking_integration: bool | None = None
    mirror_mode: bool | None = None
    crypto_investments: bool | None = None
    bnpl: bool | None = None
    referral_program: bool | None = None
    head_to_head: bool | None = None
    classroom_mode: bool | None = None
    custom_decision_cards: bool | None = None
    social_sharing: bool | None = None
    in_app_purchases: bool | None = None
    ads: bool | None = None
    reward_catalog: str | None = Field(default=None, pattern=r"^(all|partner_only|off)$")
    max_level: int | None = Field(default=None, ge=1, le=8)
    personas_available: list[str] | None = None


def _timezone(value: str) -> str:
    if value not in available_timezones():
        raise ValueError("unknown IANA timezone")
    return value


Timezone = Annotated[str, AfterValidator(_timezone)]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class TenantCreate(InputSchema):
    slug: Slug
    name: str = Field(min_length=1, max_length=200)
    kind: TenantKind
    products: list[Product] = Field(default_factory=list)
    theme: Theme = Field(default_factory=Theme)
    features: Features = Field(default_factory=Features)
    config: dict[str, Any] = Field(default_factory=dict)
    default_locale: Locale = "en"
    currency: Currency = "USD"
    timezone: Timezone = "UTC"

    @field_validator("products")
    @classmethod
    def _unique(cls, value: list[Product]) -> list[Product]:
        return list(dict.fromkeys(value))


class TenantConfigUpdate(InputSchema):
    """PUT /partner/config (spec 000 §4.5): fields given replace the stored ones."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    theme: Theme | None = None
    features: Features | None = None
    default_locale: Locale | None = None
    timezone: Timezone | None = None


class TenantOut(Schema):
    id: uuid.UUID
    slug: str
    name: str
    kind: TenantKind
    status: TenantStatus
    products: list[str]
    theme: dict[str, Any]
    features: dict[str, Any]
    default_locale: str
    currency: str
    timezone: str
    created_at: datetime


class PublicTheme(Schema):
    slug: str
    name: str
    theme: dict[str, Any]
    products: list[str]
    default_locale: str
    currency: str
