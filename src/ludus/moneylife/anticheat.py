"""Anti-cheat (spec 000 §2.8, rules brief §19).

The server is authoritative: clients send intents, the engine validates every action and
a rejected action changes nothing. On top of that, suspicious play is flagged for admin
review (never blocked here): impossible speed (> 10 card decisions within 60 s, > 50 day
advances within an hour), a second device playing the same game within the 30-minute
session window, and month-end jumps (net worth +50 % or CHI +50 in one month). A flag is
recorded once per game, kind and hour.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.moneylife.bulk import Batch
from ludus.moneylife.models import CheatFlag, table_of

DECISIONS_LIMIT = 10
DECISIONS_WINDOW_MS = 60_000
ADVANCES_LIMIT = 50
ADVANCES_WINDOW_MS = 3_600_000
SESSION_IDLE = timedelta(minutes=30)
KINDS = ("impossible_speed", "advance_rate", "duplicate_device", "net_worth_jump", "chi_jump")


@dataclass
class Flag:
    kind: str
    details: dict[str, Any] = field(default_factory=dict)


def _window(times: list[int], now_ms: int, limit: int, span_ms: int) -> tuple[list[int], bool]:
    """Keep the last `limit + 1` times; too fast when all of them fit inside `span_ms`."""
    kept = [*times[-limit:], now_ms]
    return kept, len(kept) > limit and now_ms - kept[0] < span_ms


def decision(times: list[int], now: datetime) -> tuple[list[int], Flag | None]:
    now_ms = int(now.timestamp() * 1000)
    kept, fast = _window(times, now_ms, DECISIONS_LIMIT, DECISIONS_WINDOW_MS)
    if not fast:
        return kept, None
    seconds = (now_ms - kept[0]) / 1000
    return kept, Flag("impossible_speed", {"decisions": len(kept), "seconds": round(seconds, 1)})


def advance(times: list[int], now: datetime) -> tuple[list[int], Flag | None]:
    now_ms = int(now.timestamp() * 1000)
    kept, fast = _window(times, now_ms, ADVANCES_LIMIT, ADVANCES_WINDOW_MS)
    if not fast:
        return kept, None
    return kept, Flag("advance_rate", {"advances": len(kept), "within_seconds": 3600})


def device(
    last_device: str | None, last_at: datetime | None, current: str | None, now: datetime
) -> Flag | None:
    if not current or not last_device or current == last_device or last_at is None:
        return None
    if now - last_at < SESSION_IDLE:
        return Flag("duplicate_device", {"devices": sorted([last_device, current])})
    return None


def month_jumps(report: dict[str, Any], chi_before: int) -> list[Flag]:
    flags = []
    start = report["net_worth"] - report.get("net_worth_change", 0)
    if start > 0 and report.get("net_worth_change", 0) * 2 > start:
        flags.append(Flag("net_worth_jump", {"start": start, "end": report["net_worth"]}))
    if report["chi_score"] - chi_before >= 50:
        flags.append(Flag("chi_jump", {"from": chi_before, "to": report["chi_score"]}))
    return flags


def queue(
    batch: Batch,
    flags: list[Flag],
    *,
    tenant_id: uuid.UUID,
    game_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
) -> None:
    """Add the flags to a write batch (once per game, kind and hour)."""
    if not flags:
        return
    window = now.strftime("%Y-%m-%dT%H")
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "game_id": game_id,
            "user_id": user_id,
            "kind": f.kind,
            "window": window,
            "details": f.details,
            "status": "open",
            "created_at": now,
        }
        for f in flags
    ]
    batch.insert(table_of(CheatFlag), rows, conflict=["game_id", "kind", "window"], update=False)


async def list_flags(
    session: AsyncSession, tenant_id: uuid.UUID, *, status: str | None, offset: int, limit: int
) -> tuple[list[CheatFlag], int]:
    query = select(CheatFlag).where(CheatFlag.tenant_id == tenant_id)
    if status:
        query = query.where(CheatFlag.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(CheatFlag.created_at.desc()).offset(offset).limit(limit)
    )
    return list(rows.scalars().all()), total


async def review(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    flag_id: uuid.UUID,
    status: str,
    reviewer: uuid.UUID | None,
    now: datetime,
) -> CheatFlag | None:
    await session.execute(
        update(CheatFlag)
        .where(CheatFlag.id == flag_id, CheatFlag.tenant_id == tenant_id)
        .values(status=status, reviewed_by=reviewer, reviewed_at=now)
    )
    return await session.scalar(
        select(CheatFlag)
        .where(CheatFlag.id == flag_id, CheatFlag.tenant_id == tenant_id)
        .execution_options(populate_existing=True)
    )
