"""Milestone badges (engagement kit badge tables), defined per org on first award."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import driver
from ludus.engagement.challenges import scoring
from ludus.engagement.challenges.models import Challenge
from ludus.engagement.models import Badge, UserBadge

# code: (name, description, rarity, criteria)
BADGES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "first_deposit": ("First deposit", "Made a first M-Pesa deposit.", "common", {"deposits": 1}),
    "saver_10k": (
        "KES 10,000 saved",
        "Saved KES 10,000 in total.",
        "rare",
        {"total_saved": 1_000_000},
    ),
    "saver_50k": (
        "KES 50,000 saved",
        "Saved KES 50,000 in total.",
        "epic",
        {"total_saved": 5_000_000},
    ),
    "challenge_finisher": (
        "Finisher",
        "Completed a savings challenge.",
        "common",
        {"challenge_completed": True},
    ),
    "podium": ("Podium", "Finished a challenge in the top 3.", "rare", {"rank_at_most": 3}),
    "champion": ("Champion", "Won a savings challenge.", "epic", {"rank_at_most": 1}),
    "streak_12": (
        "12-week streak",
        "Saved 12 weeks in a row in a streak challenge.",
        "legendary",
        {"consecutive_weeks": 12},
    ),
}
TOTAL_MILESTONES = (("saver_10k", 1_000_000), ("saver_50k", 5_000_000))


async def badge_ids(
    session: AsyncSession, tenant_id: uuid.UUID, codes: set[str]
) -> dict[str, uuid.UUID]:
    """The org's badge rows for these codes, defined on first use."""
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "product": "savings",
            "code": code,
            "name": BADGES[code][0],
            "description": BADGES[code][1],
            "rarity": BADGES[code][2],
            "criteria": BADGES[code][3],
            "repeatable": False,
            "hidden": False,
            "coin_reward": 0,
            "xp_reward": 0,
            "active": True,
        }
        for code in sorted(codes)
    ]
    await session.execute(insert(Badge).values(rows).on_conflict_do_nothing())
    found = await session.execute(
        select(Badge.code, Badge.id).where(Badge.tenant_id == tenant_id, Badge.code.in_(codes))
    )
    return {code: badge_id for code, badge_id in found.all()}


_user_badges: Table = UserBadge.__table__  # type: ignore[assignment]


# Defines the badges the awards need (first use) and awards them, in one statement: the
# definitions inserted here are not visible to the statement's own snapshot, hence the union
# with what the insert returned.
_AWARD_MANY = (
    "WITH wanted AS (SELECT * FROM unnest(%(users)s::uuid[], %(codes)s::text[],"
    "  %(sources)s::uuid[]) AS w(user_id, code, source)),"
    f" defined AS (INSERT INTO {Badge.__tablename__} (id, tenant_id, product, code, name,"
    "  description, rarity, criteria, repeatable, hidden, coin_reward, xp_reward, active)"
    "  SELECT gen_random_uuid(), %(t)s, 'savings', d.code, d.name, d.description, d.rarity,"
    "  d.criteria, false, false, 0, 0, true"
    "  FROM unnest(%(def_codes)s::text[], %(names)s::text[], %(descriptions)s::text[],"
    "  %(rarities)s::text[], %(criteria)s::jsonb[])"
    "  AS d(code, name, description, rarity, criteria)"
    "  ON CONFLICT DO NOTHING RETURNING id, code),"
    " badges AS (SELECT id, code FROM defined UNION ALL"
    f"  SELECT id, code FROM {Badge.__tablename__}"
    "  WHERE tenant_id = %(t)s AND code = ANY(%(def_codes)s::text[]))"
    f" INSERT INTO {UserBadge.__tablename__} (id, tenant_id, user_id, badge_id, seq,"
    "  source_event_id)"
    " SELECT gen_random_uuid(), %(t)s, w.user_id, b.id, 1, w.source"
    " FROM wanted AS w JOIN badges AS b ON b.code = w.code"
    " ON CONFLICT DO NOTHING"
)


async def award_many(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    awards: list[tuple[uuid.UUID, str, uuid.UUID | None]],
) -> None:
    """(user id, badge code, source) each awarded once; repeats are ignored. One statement,
    badge definitions included."""
    if not awards:
        return
    codes = sorted({code for _, code, _ in awards})
    await driver.execute(
        session,
        _AWARD_MANY,
        {
            "t": tenant_id,
            "users": [user for user, _, _ in awards],
            "codes": [code for _, code, _ in awards],
            "sources": [source for _, _, source in awards],
            "def_codes": codes,
            "names": [BADGES[c][0] for c in codes],
            "descriptions": [BADGES[c][1] for c in codes],
            "rarities": [BADGES[c][2] for c in codes],
            "criteria": [orjson.dumps(BADGES[c][3]).decode() for c in codes],
        },
    )


async def award(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    code: str,
    source: uuid.UUID | None = None,
) -> None:
    await award_many(session, tenant_id, [(user_id, code, source)])


async def on_result(
    session: AsyncSession, tenant_id: uuid.UUID, challenge: Challenge, r: scoring.Result, n: int
) -> None:
    if r.completed:
        await award(session, tenant_id, r.user_id, "challenge_finisher", challenge.id)
    if r.score > 0 and r.rank <= 3 and n > 3:
        await award(session, tenant_id, r.user_id, "podium", challenge.id)
    if r.score > 0 and r.rank == 1 and n > 1:
        await award(session, tenant_id, r.user_id, "champion", challenge.id)
    if challenge.kind == "streak" and int(r.detail.get("longest_run", 0)) >= 12:
        await award(session, tenant_id, r.user_id, "streak_12", challenge.id)


async def of_user(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Sequence[tuple[Badge, UserBadge]]:
    rows = await session.execute(
        select(Badge, UserBadge)
        .join(UserBadge, UserBadge.badge_id == Badge.id)
        .where(UserBadge.tenant_id == tenant_id, UserBadge.user_id == user_id)
        .order_by(UserBadge.earned_at, Badge.code)
    )
    return [(b, ub) for b, ub in rows.all()]
