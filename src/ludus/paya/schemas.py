"""Request and response bodies for the PaYa API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ludus.core.kit.schemas import InputSchema, Schema

Tokens = Field(gt=0, le=10_000_000, description="Whole tokens (1 token = 1 USD).")


class ProfileCreate(InputSchema):
    username: str = Field(min_length=1, max_length=21, examples=["@maria_j"])
    display_name: str | None = Field(None, min_length=1, max_length=100)
    bio: str | None = Field(None, max_length=160)


class PublicProfile(Schema):
    username: str
    display_name: str
    bio: str | None
    joined_at: datetime


class MyProfile(PublicProfile):
    user_id: uuid.UUID
    status: str
    balance: int
    pending: int
    ineligible_until: date | None
    restrictions: dict[str, Any]


class TransferCreate(InputSchema):
    to: str = Field(min_length=1, max_length=21, examples=["@maria_j"])
    amount: int = Tokens
    memo: str = Field("", max_length=280)
    public: bool = True


class PaymentOut(Schema):
    id: uuid.UUID
    sender: str
    recipient: str
    amount: int
    memo: str
    public: bool
    created_at: datetime
    direction: str | None = None


class FeedItem(BaseModel):
    id: uuid.UUID
    sender: str
    recipient: str
    memo: str
    created_at: datetime
    amount: int | None = None


class LinkTokenOut(BaseModel):
    link_token: str


class BankLinkCreate(InputSchema):
    public_token: str = Field(min_length=1, max_length=500)
    account_id: str | None = Field(None, max_length=128)


class BankLinkOut(Schema):
    id: uuid.UUID
    account_name: str
    mask: str
    owner_names: list[str]
    status: str
    created_at: datetime


class MovementCreate(InputSchema):
    amount: int = Tokens
    bank_link_id: uuid.UUID | None = None


class MovementOut(Schema):
    id: uuid.UUID
    kind: str
    amount: int
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class FlagOut(Schema):
    id: uuid.UUID
    user_id: uuid.UUID
    rule: str
    source: str
    reason: str
    details: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None


class ReasonIn(InputSchema):
    reason: str = Field(min_length=3, max_length=500)


class IneligibleIn(InputSchema):
    weeks: int = Field(ge=1, le=520)
    reason: str = Field(min_length=3, max_length=500)


class AdjustIn(InputSchema):
    amount: int = Field(ge=-10_000_000, le=10_000_000, description="+ credit, - debit")
    reason: str = Field(min_length=3, max_length=500)

    @field_validator("amount")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("amount must not be zero")
        return value


class RevenueIn(InputSchema):
    amount: int = Tokens
    source: str = Field(min_length=1, max_length=100)
    week_start: date | None = None


class RevenueOut(Schema):
    id: uuid.UUID
    week_start: date
    amount: int
    source: str
    created_at: datetime


class AccountAdminOut(BaseModel):
    profile: MyProfile
    flags: list[FlagOut]


class DistributionOut(Schema):
    id: uuid.UUID
    week_start: date
    revenue: int
    carry_in: int
    pool: int
    ops_amount: int
    share: int
    eligible_count: int
    remainder: int
    status: str
    completed_at: datetime | None


class SnapshotOut(Schema):
    taken_at: datetime
    reserve: int
    circulation: int
    bank_balance: int
    pending_loads: int
    active_users: int
    matched: bool


class WeekRevenue(BaseModel):
    week_start: date
    amount: int


class Transparency(BaseModel):
    asset: str
    reserve: int
    circulation: int
    backing_ratio: str  # reserve / circulation, 4 decimals ("1.0000" = fully backed)
    pending_loads: int
    active_users_7d: int
    weekly_revenue: list[WeekRevenue]
    distributions: list[DistributionOut]
    snapshots: list[SnapshotOut]
