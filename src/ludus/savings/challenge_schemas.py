"""Challenge bodies: the spec's four types, each with its own target shape."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ludus.core.kit.schemas import InputSchema, Schema

ChallengeType = Literal["fixed_amount", "percentage", "streak", "group"]
Frequency = Literal["daily", "weekly", "monthly"]
Cents = Annotated[int, Field(gt=0, le=10**12)]


class FixedTarget(InputSchema):
    amount: Cents
    frequency: Frequency = "weekly"


class PercentageTarget(InputSchema):
    increase: int = Field(ge=1, le=1000)  # percent over the baseline
    baseline: Literal["last_month"] = "last_month"


class StreakTarget(InputSchema):
    consecutive_weeks: int = Field(ge=1, le=104)
    min_amount: Cents = 100  # a week counts when at least this much was saved


class GroupTarget(InputSchema):
    team_amount: Cents
    min_members: int = Field(default=1, ge=1, le=1000)


TARGETS: dict[str, type[InputSchema]] = {
    "fixed_amount": FixedTarget,
    "percentage": PercentageTarget,
    "streak": StreakTarget,
    "group": GroupTarget,
}


def engine_target(kind: str, target: dict[str, Any]) -> dict[str, Any]:
    """The engagement kit's target keys for the stored (spec-shaped) target."""
    if kind == "percentage":
        return {"increase_pct": target["increase"]}
    if kind == "streak":
        return {
            "consecutive": target["consecutive_weeks"],
            "period": "weekly",
            "min_amount": target["min_amount"],
        }
    return dict(target)


class ScoringIn(InputSchema):
    points_per_kes: int = Field(default=1, ge=0, le=1000)
    # [[consecutive days, multiplier]], e.g. [[7, "1.5"]]
    streak_multipliers: list[tuple[int, Decimal]] = Field(default_factory=list, max_length=10)
    early_bird_bonus: int = Field(default=0, ge=0, le=10**7)
    early_bird_days: int = Field(default=3, ge=0, le=366)
    completion_bonus: int = Field(default=0, ge=0, le=10**7)
    referral_bonus: int = Field(default=0, ge=0, le=10**7)

    def stored(self) -> dict[str, Any]:
        return {
            "points_per_unit": self.points_per_kes,
            "unit": 100,  # amounts are KES cents
            "streak_multipliers": [[d, str(m)] for d, m in self.streak_multipliers],
            "early_bird_bonus": self.early_bird_bonus,
            "early_bird_days": self.early_bird_days,
            "completion_bonus": self.completion_bonus,
            "referral_bonus": self.referral_bonus,
        }


class JoinRules(InputSchema):
    self_join: bool = True  # members may join themselves (else only admins enrol them)
    late_join_days: int | None = Field(default=None, ge=0, le=366)  # None: until the end
    min_membership_days: int = Field(default=0, ge=0, le=3650)


class ChallengeIn(InputSchema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    type: ChallengeType
    target: dict[str, Any]
    start_date: date
    duration_days: int = Field(ge=1, le=366)
    scoring: ScoringIn = Field(default_factory=ScoringIn)
    join_rules: JoinRules = Field(default_factory=JoinRules)
    max_participants: int | None = Field(default=None, ge=1, le=100_000)

    @model_validator(mode="after")
    def _target(self) -> ChallengeIn:
        self.target = TARGETS[self.type].model_validate(self.target).model_dump()
        return self


class ChallengePatch(InputSchema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    status: Literal["active", "cancelled"] | None = None
    target: dict[str, Any] | None = None
    start_date: date | None = None
    duration_days: int | None = Field(default=None, ge=1, le=366)
    scoring: ScoringIn | None = None
    join_rules: JoinRules | None = None


class JoinIn(InputSchema):
    team_id: uuid.UUID | None = None
    member_id: uuid.UUID | None = None  # admins enrol someone else


class TeamIn(InputSchema):
    name: str = Field(min_length=1, max_length=120)


class ChallengeOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    type: str
    target: dict[str, Any]
    scoring: dict[str, Any]
    join_rules: dict[str, Any]
    start_date: date
    end_date: date
    duration_days: int
    starts_at: datetime
    ends_at: datetime
    status: str
    participants_count: int
    total_saved: int
    max_participants: int | None
    created_by: uuid.UUID | None


class TeamOut(Schema):
    id: uuid.UUID
    name: str
    rank: int | None = None
    total_members: int = 0
    total_saved: int = 0
    score: int = 0
    completed: bool = False


class ParticipantOut(Schema):
    challenge_id: uuid.UUID
    member_id: uuid.UUID | None
    user_id: uuid.UUID
    team_id: uuid.UUID | None
    status: str
    score: int
    total_contributed: int
    completed: bool
    rank: int | None
    joined_at: datetime


class LeaderRow(Schema):
    rank: int
    member_id: uuid.UUID | None
    user_id: uuid.UUID
    name: str | None
    team_id: uuid.UUID | None
    score: int
    total_saved: int
    completed: bool


class ProgressOut(Schema):
    challenge_id: uuid.UUID
    challenge: str
    type: str
    status: str
    participant_status: str
    score: int
    total_contributed: int
    completed: bool
    rank: int | None
    detail: dict[str, Any]


class AchievementOut(Schema):
    code: str
    name: str
    description: str
    rarity: str
    earned_at: datetime
