"""Boards, periods and backend choice.

A metric ("xp", "points", "net_worth", "total_saved", ...) has one stored board per period:
"all", "w2026-48" (ISO week) and "m2026-11" (month), in the tenant's timezone. Friends,
classroom and team boards rank a subset of the global board's entries; each challenge has
its own board `challenge:<id>`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.settings import get_settings
from ludus.engagement import errors
from ludus.engagement.leaderboards.base import MAX_SCORE, Backend, Entry, Mode, rank_subset
from ludus.engagement.leaderboards.postgres import PostgresBackend
from ludus.engagement.leaderboards.redis import RedisBackend

PERIODS = ("all", "weekly", "monthly")
_METRIC = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_clients: dict[str, Redis] = {}


def backend_for(session: AsyncSession, redis_url: str | None = None) -> Backend:
    """Redis when REDIS_URL is set, else PostgreSQL (in the caller's transaction)."""
    url = redis_url if redis_url is not None else get_settings().redis_url
    if not url:
        return PostgresBackend(session)
    client = _clients.get(url)
    if client is None:
        client = Redis.from_url(url)
        _clients[url] = client
    return RedisBackend(client)


def period_key(period: str, at: datetime, tz: str = "UTC") -> str:
    local = at.astimezone(ZoneInfo(tz))
    if period == "all":
        return "all"
    if period == "weekly":
        year, week, _ = local.isocalendar()
        return f"w{year}-{week:02d}"
    if period == "monthly":
        return f"m{local.year}-{local.month:02d}"
    raise errors.LeaderboardInvalid(details={"period": period})


def metric_board(metric: str) -> str:
    if not _METRIC.match(metric):
        raise errors.LeaderboardInvalid(details={"metric": metric})
    return f"metric:{metric}"


def challenge_board(challenge_id: uuid.UUID) -> str:
    return f"challenge:{challenge_id}"


async def submit_metric(
    backend: Backend,
    *,
    tenant_id: uuid.UUID,
    metric: str,
    member_id: uuid.UUID,
    value: int,
    at: datetime,
    mode: Mode = "add",
    tz: str = "UTC",
) -> None:
    """Write one metric change to the all-time, weekly and monthly boards."""
    if abs(value) >= MAX_SCORE:
        raise errors.LeaderboardInvalid(details={"value": "out of range"})
    board = metric_board(metric)
    for period in PERIODS:
        await backend.submit(
            tenant_id, board, period_key(period, at, tz), member_id, value, at, mode
        )


async def subset_board(
    backend: Backend,
    *,
    tenant_id: uuid.UUID,
    board: str,
    period: str,
    members: Sequence[uuid.UUID],
) -> list[Entry]:
    return rank_subset(await backend.entries_for(tenant_id, board, period, members))
