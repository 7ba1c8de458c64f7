"""Every MoneyLife query, scoped by tenant (RLS applies as well)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import driver
from ludus.moneylife import models as m
from ludus.moneylife.engine import Content
from ludus.moneylife.engine.state import GameState
from ludus.moneylife.errors import GameNotFound
from ludus.moneylife.projections import game_date

GAMES = m.table_of(m.Game)
# The game row plus the tenant's content revision (the deck cache key), in one statement.
_LOCK = (
    "SELECT g.*, (SELECT r.revision FROM moneylife_content_revisions r"
    " WHERE r.tenant_id = g.tenant_id) AS content_revision FROM moneylife_games g"
)


async def lock_game(
    session: AsyncSession, tenant_id: uuid.UUID, game_id: uuid.UUID, *, lock: bool = True
) -> Any:
    """The game row plus the tenant's content revision, in one statement."""
    sql = _LOCK + " WHERE g.id = %(id)s AND g.tenant_id = %(tenant)s"
    if lock:
        sql += " FOR UPDATE OF g"
    rows = await driver.fetch(session, sql, {"id": game_id, "tenant": tenant_id})
    if not rows:
        raise GameNotFound()
    return rows[0]


async def lock_games(session: AsyncSession, game_ids: Sequence[uuid.UUID]) -> list[Any]:
    """Month-end batches: lock what is free; a game being played now is skipped."""
    sql = _LOCK + " WHERE g.id = ANY(%(ids)b) FOR UPDATE OF g SKIP LOCKED"
    return await driver.fetch(session, sql, {"ids": list(game_ids)})


def level_xp(st: GameState, content: Content) -> int:
    prev = content.levels.get(st.level - 1)
    return st.total_xp - (prev.xp_cumulative if prev else 0)


def game_columns(st: GameState, content: Content, start: date) -> dict[str, Any]:
    """The §3.1 columns of `moneylife_games` that mirror engine state."""
    from ludus.moneylife.engine.calendar import is_month_end

    parts = st.chi_parts
    return {
        "current_game_date": game_date(start, st.day_number),
        "month_end_due": is_month_end(st.year, st.month, st.day),
        "current_level": st.level,
        "total_xp": st.total_xp,
        "level_xp": level_xp(st, content),
        "total_coins": st.coins,
        "happiness": st.happiness // 10,
        "chi_score": st.chi,
        "chi_payment_history": parts.get("payment_history", st.payment_history),
        "chi_utilization": parts.get("utilization", 0),
        "chi_credit_age": parts.get("credit_age", 0),
        "chi_credit_mix": parts.get("credit_mix", 0),
        "chi_new_inquiries": parts.get("new_inquiries", 0),
        "budget_score": st.budget_score,
        "net_worth": st.net_worth,
        "monthly_income": st.monthly_income,
        "inflation_ppm": st.inflation_ppm,
        "bankruptcy_count": st.bankruptcy_count,
        "bankruptcy_active": st.bankruptcy_active,
        "state_version": st.state_version,
        "status": "completed" if st.endless else "active" if st.status == "active" else "paused",
    }


async def update_game(session: AsyncSession, game_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(update(GAMES).where(GAMES.c.id == game_id).values(**values))


async def user_games(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Sequence[Row[Any]]:
    query = (
        select(GAMES.c.id, GAMES.c.status, GAMES.c.persona, GAMES.c.created_at)
        .where(GAMES.c.tenant_id == tenant_id, GAMES.c.user_id == user_id)
        .order_by(GAMES.c.created_at.desc())
    )
    return (await session.execute(query)).all()


async def latest_active_game(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID | None:
    return await session.scalar(
        select(GAMES.c.id)
        .where(
            GAMES.c.tenant_id == tenant_id,
            GAMES.c.user_id == user_id,
            GAMES.c.status == "active",
        )
        .order_by(GAMES.c.created_at.desc())
        .limit(1)
    )


async def rows_of(
    session: AsyncSession,
    model: Any,
    tenant_id: uuid.UUID,
    game_id: uuid.UUID,
    *order: Any,
) -> Sequence[Any]:
    query = select(model).where(model.tenant_id == tenant_id, model.game_id == game_id)
    if order:
        query = query.order_by(*order)
    return (await session.execute(query)).scalars().all()


async def transactions(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    game_id: uuid.UUID,
    *,
    account_id: str | None,
    from_date: date | None,
    to_date: date | None,
    category: str | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[m.GameTransaction], int]:
    t = m.GameTransaction
    query = select(t).where(t.tenant_id == tenant_id, t.game_id == game_id)
    if account_id:
        query = query.where(t.account_id == account_id)
    if from_date:
        query = query.where(t.game_date >= from_date)
    if to_date:
        query = query.where(t.game_date <= to_date)
    if category:
        query = query.where(t.category == category)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(t.game_date.desc(), t.id.desc()).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total
