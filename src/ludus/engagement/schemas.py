"""Engagement request and response bodies (spec 000 §4.3-4.4 shapes where given)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import EmailStr, Field, model_validator

from ludus.core.kit.schemas import InputSchema, Schema

Rarity = Literal["common", "rare", "epic", "legendary"]
Category = Literal["gift_card", "discount", "physical", "charity", "experience"]
FulfillmentType = Literal["instant_digital", "async_digital", "physical"]


class BalanceOut(Schema):
    coins: int
    tier: str
    tier_level: int


class CoinLine(Schema):
    id: uuid.UUID
    amount: int
    balance_after: int
    reason: str
    reference_id: str | None
    created_at: datetime


class BadgeOut(Schema):
    badge_id: str
    name: str
    rarity: str
    earned_at: datetime
    icon_url: str | None
    seq: int


class BadgesOut(Schema):
    badges: list[BadgeOut]


class BadgeIn(InputSchema):
    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,63}$")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    icon_url: str | None = Field(default=None, max_length=500)
    rarity: Rarity = "common"
    product: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{1,31}$")
    criteria: dict[str, Any]
    repeatable: bool = False
    hidden: bool = False
    coin_reward: int = Field(default=0, ge=0, le=1_000_000)
    xp_reward: int = Field(default=0, ge=0, le=1_000_000)


class BadgeDefinitionOut(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    code: str
    name: str
    rarity: str
    criteria: dict[str, Any]
    repeatable: bool
    coin_reward: int


class StreakOut(Schema):
    current: int
    longest: int
    multiplier: float
    last_action_date: date | None
    deadline: datetime | None
    grace_until: datetime | None
    broken_length: int
    insurable_until: datetime | None


class ShieldOut(Schema):
    activated: bool
    coins_deducted: int
    grace_until: datetime


class InsuranceOut(Schema):
    purchased: bool
    coins_deducted: int
    streak_restored: bool
    current: int


class AchievementsOut(Schema):
    current_tier: str
    tier_level: int
    lifetime_xp: int
    level: int
    tier_progress: int
    next_tier: str | None
    next_tier_xp: int | None
    perks: list[str]
    coin_bonus_pct: int


class FriendRequestIn(InputSchema):
    user_id: uuid.UUID | None = None
    referral_code: str | None = Field(default=None, max_length=32)

    @model_validator(mode="after")
    def _one(self) -> FriendRequestIn:
        if (self.user_id is None) == (self.referral_code is None):
            raise ValueError("give exactly one of user_id or referral_code")
        return self


class FriendshipOut(Schema):
    friendship_id: uuid.UUID
    status: str


class FriendActionIn(InputSchema):
    action: Literal["accept", "reject", "block"]


class FriendOut(Schema):
    friendship_id: uuid.UUID
    user_id: uuid.UUID
    display_name: str
    status: str
    incoming: bool


class FriendsOut(Schema):
    friends: list[FriendOut]


class ClassroomIn(InputSchema):
    name: str = Field(min_length=1, max_length=120)
    config: dict[str, Any] = Field(default_factory=dict)


class ClassroomOut(Schema):
    id: uuid.UUID
    name: str
    teacher_id: uuid.UUID
    join_code: str | None = None
    member_count: int = 0
    status: str


class ClassroomsOut(Schema):
    classrooms: list[ClassroomOut]


class JoinCodeIn(InputSchema):
    join_code: str = Field(min_length=4, max_length=16)


class TeamIn(InputSchema):
    name: str = Field(min_length=1, max_length=120)


class TeamOut(Schema):
    id: uuid.UUID
    name: str
    classroom_id: uuid.UUID | None
    challenge_id: uuid.UUID | None


class TeamAssignIn(InputSchema):
    team_id: uuid.UUID | None


class ReferralCodeOut(Schema):
    code: str
    referrals_count: int
    referrals_remaining: int


class ReferralClaimIn(InputSchema):
    code: str = Field(min_length=4, max_length=32)
    device_id: str | None = Field(default=None, max_length=128)


class ReferralOut(Schema):
    id: uuid.UUID
    referrer_id: uuid.UUID
    status: str
    created_at: datetime


class DeliveryIn(InputSchema):
    email: EmailStr | None = None
    address: dict[str, str] | None = None


class RedeemIn(InputSchema):
    item_id: uuid.UUID
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    delivery: DeliveryIn = Field(default_factory=DeliveryIn)
