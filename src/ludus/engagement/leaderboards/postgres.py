"""PostgreSQL leaderboard: rank = 1 + rows ahead, counted with one index range scan over
(neg_score, reached_at, member_id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.engagement.leaderboards.base import Entry, Mode

_KEY = "tenant_id = :t AND board = :b AND period = :p"
_UPSERT = {
    "set": "neg_score = excluded.neg_score, reached_at = CASE WHEN e.neg_score = "
    "excluded.neg_score THEN e.reached_at ELSE excluded.reached_at END",
    "add": "neg_score = e.neg_score + excluded.neg_score, reached_at = CASE WHEN "
    "excluded.neg_score = 0 THEN e.reached_at ELSE excluded.reached_at END",
    "max": "neg_score = LEAST(e.neg_score, excluded.neg_score), reached_at = CASE WHEN "
    "excluded.neg_score < e.neg_score THEN excluded.reached_at ELSE e.reached_at END",
}
_COLS = "member_id, -neg_score AS score, reached_at"
_CHUNK = 50_000


def _entry(row: Any, rank: int = 0) -> Entry:
    return Entry(row[0], int(row[1]), row[2], rank)


class PostgresBackend:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def submit(
        self,
        tenant_id: uuid.UUID,
        board: str,
        period: str,
        member_id: uuid.UUID,
        score: int,
        at: datetime,
        mode: Mode = "set",
    ) -> int:
        sql = text(
            "INSERT INTO engagement_leaderboard_entries AS e "
            "(tenant_id, board, period, member_id, neg_score, reached_at) "
            "VALUES (:t, :b, :p, :m, :neg, :at) "
            "ON CONFLICT (tenant_id, board, period, member_id) DO UPDATE SET "
            f"{_UPSERT[mode]} RETURNING -neg_score"
        )
        params = {"t": tenant_id, "b": board, "p": period, "m": member_id, "neg": -score, "at": at}
        return int((await self.session.execute(sql, params)).scalar_one())

    async def bulk_load(
        self, tenant_id: uuid.UUID, board: str, period: str, rows: Sequence[Entry]
    ) -> None:
        sql = text(
            "INSERT INTO engagement_leaderboard_entries "
            "(tenant_id, board, period, member_id, neg_score, reached_at) "
            "SELECT :t, :b, :p, m, -s, r FROM unnest("
            "CAST(:ms AS uuid[]), CAST(:ss AS bigint[]), CAST(:rs AS timestamptz[])) AS x(m, s, r) "
            "ON CONFLICT (tenant_id, board, period, member_id) DO UPDATE SET "
            "neg_score = excluded.neg_score, reached_at = excluded.reached_at"
        )
        for i in range(0, len(rows), _CHUNK):
            chunk = rows[i : i + _CHUNK]
            await self.session.execute(
                sql,
                {
                    "t": tenant_id,
                    "b": board,
                    "p": period,
                    "ms": [r.member_id for r in chunk],
                    "ss": [r.score for r in chunk],
                    "rs": [r.reached_at for r in chunk],
                },
            )

    async def _me(
        self, tenant_id: uuid.UUID, board: str, period: str, member_id: uuid.UUID
    ) -> tuple[int, datetime] | None:
        row = (
            await self.session.execute(
                text(
                    "SELECT neg_score, reached_at FROM engagement_leaderboard_entries "
                    f"WHERE {_KEY} AND member_id = :m"
                ),
                {"t": tenant_id, "b": board, "p": period, "m": member_id},
            )
        ).first()
        return (int(row[0]), row[1]) if row else None

    async def rank_of(
        self, tenant_id: uuid.UUID, board: str, period: str, member_id: uuid.UUID
    ) -> Entry | None:
        me = await self._me(tenant_id, board, period, member_id)
        if me is None:
            return None
        ahead = await self.session.scalar(
            text(
                f"SELECT count(*) FROM engagement_leaderboard_entries WHERE {_KEY} "
                "AND (neg_score, reached_at, member_id) < (:n, :r, :m)"
            ),
            {"t": tenant_id, "b": board, "p": period, "n": me[0], "r": me[1], "m": member_id},
        )
        return Entry(member_id, -me[0], me[1], int(ahead or 0) + 1)

    async def top(
        self, tenant_id: uuid.UUID, board: str, period: str, offset: int, limit: int
    ) -> list[Entry]:
        rows = await self.session.execute(
            text(
                f"SELECT {_COLS} FROM engagement_leaderboard_entries WHERE {_KEY} "
                "ORDER BY neg_score, reached_at, member_id OFFSET :o LIMIT :l"
            ),
            {"t": tenant_id, "b": board, "p": period, "o": offset, "l": limit},
        )
        return [_entry(row, offset + i) for i, row in enumerate(rows, 1)]

    async def around(
        self, tenant_id: uuid.UUID, board: str, period: str, member_id: uuid.UUID, radius: int
    ) -> list[Entry]:
        me = await self.rank_of(tenant_id, board, period, member_id)
        if me is None:
            return []
        params = {
            "t": tenant_id,
            "b": board,
            "p": period,
            "n": -me.score,
            "r": me.reached_at,
            "m": member_id,
            "l": radius,
        }
        before = await self.session.execute(
            text(
                f"SELECT {_COLS} FROM engagement_leaderboard_entries WHERE {_KEY} "
                "AND (neg_score, reached_at, member_id) < (:n, :r, :m) "
                "ORDER BY neg_score DESC, reached_at DESC, member_id DESC LIMIT :l"
            ),
            params,
        )
        after = await self.session.execute(
            text(
                f"SELECT {_COLS} FROM engagement_leaderboard_entries WHERE {_KEY} "
                "AND (neg_score, reached_at, member_id) > (:n, :r, :m) "
                "ORDER BY neg_score, reached_at, member_id LIMIT :l"
            ),
            params,
        )
        above = list(before)[::-1]
        out = [_entry(row, me.rank - len(above) + i) for i, row in enumerate(above)]
        out.append(me)
        out += [_entry(row, me.rank + i) for i, row in enumerate(after, 1)]
        return out

    async def count(self, tenant_id: uuid.UUID, board: str, period: str) -> int:
        total = await self.session.scalar(
            text(f"SELECT count(*) FROM engagement_leaderboard_entries WHERE {_KEY}"),
            {"t": tenant_id, "b": board, "p": period},
        )
        return int(total or 0)

    async def entries_for(
        self, tenant_id: uuid.UUID, board: str, period: str, members: Sequence[uuid.UUID]
    ) -> list[Entry]:
        rows = await self.session.execute(
            text(
                f"SELECT {_COLS} FROM engagement_leaderboard_entries WHERE {_KEY} "
                "AND member_id = ANY(CAST(:ms AS uuid[]))"
            ),
            {"t": tenant_id, "b": board, "p": period, "ms": list(members)},
        )
        return [_entry(row) for row in rows]
