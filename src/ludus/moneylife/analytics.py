"""Partner analytics (spec 000 §4.5) over one tenant's games and game events.

Activity is read from the tenant's `game.*` outbox events: a user is active on a day when
they produced one; a session is one user's span of events within a day.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.moneylife import decks

_ACTIVE = (
    "SELECT (o.data->>'user_id')::uuid AS user_id, o.occurred_at::date AS day,"
    " min(o.occurred_at) AS first_at, max(o.occurred_at) AS last_at"
    " FROM event_outbox o WHERE o.tenant_id = :t AND o.event_type LIKE 'game.%%'"
    " AND o.occurred_at >= :since AND o.occurred_at < :until"
    " GROUP BY 1, 2"
)


async def overview(session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    row = (
        await session.execute(
            text(
                f"WITH act AS ({_ACTIVE}) SELECT"
                " (SELECT count(DISTINCT user_id) FROM moneylife_games WHERE tenant_id = :t),"
                " (SELECT count(DISTINCT user_id) FROM act WHERE last_at >= :day_ago),"
                " (SELECT count(DISTINCT user_id) FROM act),"
                " (SELECT coalesce(avg(extract(epoch FROM last_at - first_at)), 0) FROM act)"
            ),
            {
                "t": tenant_id,
                "since": now - timedelta(days=30),
                "until": now + timedelta(seconds=1),
                "day_ago": now - timedelta(days=1),
            },
        )
    ).one()
    levels = await session.execute(
        text(
            "SELECT current_level, count(*) FROM moneylife_games WHERE tenant_id = :t"
            " GROUP BY 1 ORDER BY 1"
        ),
        {"t": tenant_id},
    )
    return {
        "total_users": row[0],
        "dau": row[1],
        "mau": row[2],
        "avg_session_seconds": round(float(row[3]), 1),
        "level_distribution": {str(level): n for level, n in levels},
    }


async def engagement(
    session: AsyncSession, tenant_id: uuid.UUID, start: date, end: date
) -> dict[str, Any]:
    since = datetime.combine(start, time(), tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC)
    daily = await session.execute(
        text(
            f"WITH act AS ({_ACTIVE}) SELECT day, count(DISTINCT user_id) FROM act"
            " GROUP BY 1 ORDER BY 1"
        ),
        {"t": tenant_id, "since": since, "until": until},
    )
    retention: Any = await session.execute(
        text(
            "WITH first AS (SELECT user_id, min(created_at)::date AS d0 FROM moneylife_games"
            "  WHERE tenant_id = :t GROUP BY 1 HAVING min(created_at)::date BETWEEN :s AND :e),"
            " days AS (SELECT DISTINCT (data->>'user_id')::uuid AS user_id,"
            "  occurred_at::date AS day FROM event_outbox"
            "  WHERE tenant_id = :t AND event_type LIKE 'game.%%')"
            " SELECT n, count(*) FILTER (WHERE f.d0 + n <= CURRENT_DATE),"
            "  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM days x WHERE x.user_id = f.user_id"
            "   AND x.day = f.d0 + n))"
            " FROM first f CROSS JOIN unnest(ARRAY[1, 7, 30]) AS n GROUP BY n"
        ),
        {"t": tenant_id, "s": start, "e": end},
    )
    rates = {
        f"d{n}": (round(kept / eligible, 4) if eligible else None)
        for n, eligible, kept in retention
    }
    return {
        "daily_active_users": [{"date": str(d), "users": n} for d, n in daily],
        "retention": {k: rates.get(k) for k in ("d1", "d7", "d30")},
    }


async def learning(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, Any]:
    chi: Any = await session.execute(
        text(
            "SELECT m.month_no, avg(m.score - f.score), count(*) FROM ("
            " SELECT game_id, score, row_number() OVER (PARTITION BY game_id ORDER BY game_month)"
            " - 1 AS month_no FROM moneylife_chi_history WHERE tenant_id = :t) m"
            " JOIN (SELECT DISTINCT ON (game_id) game_id, score FROM moneylife_chi_history"
            "  WHERE tenant_id = :t ORDER BY game_id, game_month) f USING (game_id)"
            " GROUP BY 1 ORDER BY 1"
        ),
        {"t": tenant_id},
    )
    budget: Any = await session.execute(
        text(
            "SELECT game_month, avg(budget_score), count(*) FROM moneylife_monthly_reports"
            " WHERE tenant_id = :t GROUP BY 1 ORDER BY 1"
        ),
        {"t": tenant_id},
    )
    picks: Any = await session.execute(
        text(
            "SELECT card_id, selected_option_id, status, count(*) FROM moneylife_pending_cards"
            " WHERE tenant_id = :t AND status <> 'pending' GROUP BY 1, 2, 3"
        ),
        {"t": tenant_id},
    )
    content = decks.base_content()
    mistakes: list[dict[str, Any]] = []
    for card_id, option_id, status, n in picks:
        opt = content.option_index.get((card_id, option_id or ""))
        quality = opt.quality if opt is not None else None
        if status == "expired" or quality in ("worst", "poor"):
            card = content.cards.get(card_id)
            mistakes.append(
                {
                    "card_id": card_id,
                    "title": card.title if card else card_id,
                    "option_id": option_id,
                    "kind": "expired" if status == "expired" else quality,
                    "count": n,
                }
            )
    mistakes.sort(key=lambda m: (-m["count"], m["card_id"]))
    return {
        "avg_chi_progression": [
            {"month": int(n), "avg_change": round(float(v), 1), "games": c} for n, v, c in chi
        ],
        "budget_adherence_trend": [
            {"game_month": str(d), "avg_score": round(float(v), 1), "games": c}
            for d, v, c in budget
        ],
        "common_mistakes": mistakes[:10],
    }
