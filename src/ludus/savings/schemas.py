"""Request and response bodies of the savings API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from ludus.core.kit.schemas import InputSchema, Schema
from ludus.savings.models import (
    DepositStatus,
    MemberRole,
    MemberStatus,
    SubscriptionStatus,
    SubscriptionTier,
)
from ludus.savings.phones import normalize_phone

HexColor = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
AccountRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{3,20}$")]
Cidr = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F:.]+(/\d{1,3})?$", max_length=64)]


def _phone(value: str) -> str:
    normalized = normalize_phone(value)
    if normalized is None:
        raise ValueError("not a valid phone number")
    return normalized


Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(_phone)]


class Branding(InputSchema):
    brand_name: str | None = Field(default=None, max_length=120)
    primary_color: HexColor | None = None
    secondary_color: HexColor | None = None
    accent_color: HexColor | None = None
    tagline: str | None = Field(default=None, max_length=200)


class OrgUpdate(InputSchema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    subscription_tier: SubscriptionTier | None = None
    subscription_status: SubscriptionStatus | None = None


class MpesaConfigIn(InputSchema):
    """Daraja credentials; stored sealed and never returned."""

    shortcode: str = Field(pattern=r"^\d{5,7}$")
    consumer_key: str = Field(min_length=8, max_length=200)
    consumer_secret: str = Field(min_length=8, max_length=200)
    passkey: str = Field(min_length=8, max_length=200)
    environment: str = Field(default="sandbox", pattern=r"^(sandbox|production)$")
    initiator: str = Field(default="", max_length=100)
    security_credential: str = Field(default="", max_length=2000)
    callback_allowed_ips: list[Cidr] | None = Field(default=None, max_length=50)


class MpesaConfigOut(Schema):
    configured: bool
    shortcode: str | None
    environment: str
    callback_allowed_ips: list[str]
    callback_token_set: bool


class CallbackUrls(Schema):
    """Returned by the rotate call only; the token is stored sealed."""

    token: str
    c2b_validation_url: str
    c2b_confirmation_url: str
    stk_callback_url: str


class OrgOut(Schema):
    id: uuid.UUID
    slug: str
    name: str
    type: str
    branding: dict[str, Any]
    logo_url: str | None
    subscription_tier: SubscriptionTier
    subscription_status: SubscriptionStatus
    mpesa: MpesaConfigOut


class MemberIn(InputSchema):
    phone: Phone
    name: str = Field(min_length=1, max_length=120)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    account_ref: AccountRef | None = None
    role: MemberRole = MemberRole.member
    referred_by: uuid.UUID | None = None


class MemberOut(Schema):
    id: uuid.UUID
    user_id: uuid.UUID
    phone: str
    name: str
    email: str | None
    account_ref: str
    role: MemberRole
    status: MemberStatus
    created_at: datetime
    deactivated_at: datetime | None


class ImportRowError(Schema):
    line: int
    code: str
    message: str
    value: str


class ImportReport(Schema):
    imported: int
    failed: int
    members: list[MemberOut]
    errors: list[ImportRowError]


class DepositOut(Schema):
    id: uuid.UUID
    receipt: str
    member_id: uuid.UUID | None
    amount: int
    currency: str = "KES"
    source: str
    status: DepositStatus
    bill_ref: str | None
    transacted_at: datetime
    matched_at: datetime | None


class MatchIn(InputSchema):
    member_id: uuid.UUID


class StkPushIn(InputSchema):
    amount: int = Field(ge=100, le=25_000_000, multiple_of=100)  # cents, whole shillings
    phone: Phone | None = None


class StkRequestOut(Schema):
    id: uuid.UUID
    checkout_request_id: str
    member_id: uuid.UUID | None
    amount: int | None
    status: str
    result_code: int | None
    result_desc: str | None
    receipt: str | None
