"""PostgreSQL leaderboard.

Rank of me = 1 + members in higher score buckets (a sum over at most a few thousand count
rows) + members ahead of me inside my own bucket (one index range scan over
(neg_score, reached_at, member_id)). Counts change in the same transaction as the entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.engagement.leaderboards.base import Entry, Mode, bucket, bucket_range

_KEY = "tenant_id = :t AND board = :b AND period = :p"
_COLS = "member_id, -neg_score AS score, reached_at"
_CHUNK = 50_000


def _entry(row: Any, rank: int = 0) -> Entry:
    return Entry(row[0], int(row[1]), row[2], rank)


class PostgresBackend:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _bump(self, key: dict[str, Any], changes: dict[int, int]) -> None:
        """Adjust bucket counts, in bucket order so concurrent writers never deadlock."""
        rows = sorted((b, d) for b, d in changes.items() if d)
        if rows:
            await self.session.execute(
                text(
                    "INSERT INTO engagement_leaderboard_counts AS c "
                    "(tenant_id, board, period, bucket, n) "
                    "SELECT :t, :b, :p, x.b, x.d FROM unnest(CAST(:bs AS bigint[]), "
                    "CAST(:ds AS bigint[])) WITH ORDINALITY AS x(b, d, i) ORDER BY x.i "
                    "ON CONFLICT (tenant_id, board, period, bucket) "
                    "DO UPDATE SET n = c.n + excluded.n"
                ),
                {**key, "bs": [b for b, _ in rows], "ds": [d for _, d in rows]},
            )

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
        key = {"t": tenant_id, "b": board, "p": period, "m": member_id}
        old = await self.session.scalar(
            text(
                f"SELECT -neg_score FROM engagement_leaderboard_entries WHERE {_KEY} "
                "AND member_id = :m FOR UPDATE"
            ),
            key,
        )
        if old is None:
            inserted = await self.session.scalar(
                text(
                    "INSERT INTO engagement_leaderboard_entries "
                    "(tenant_id, board, period, member_id, neg_score, reached_at) "
                    "VALUES (:t, :b, :p, :m, :neg, :at) ON CONFLICT DO NOTHING RETURNING 1"
                ),
                {**key, "neg": -score, "at": at},
            )
            if inserted is not None:
                await self._bump(key, {bucket(score): 1})
                return score
            old = await self.session.scalar(  # a concurrent writer created it first
                text(
                    f"SELECT -neg_score FROM engagement_leaderboard_entries WHERE {_KEY} "
                    "AND member_id = :m FOR UPDATE"
                ),
                key,
            )
        old = int(old)
        new = old + score if mode == "add" else max(old, score) if mode == "max" else score
        if new == old:
            return old
        await self.session.execute(
            text(
                "UPDATE engagement_leaderboard_entries SET neg_score = :neg, reached_at = :at "
                f"WHERE {_KEY} AND member_id = :m"
            ),
            {**key, "neg": -new, "at": at},
        )
        if bucket(old) != bucket(new):
            await self._bump(key, {bucket(old): -1, bucket(new): 1})
        return new

    async def bulk_load(
        self, tenant_id: uuid.UUID, board: str, period: str, rows: Sequence[Entry]
    ) -> None:
        """Initial load of members not on the board yet (existing members are skipped)."""
        sql = text(
            "INSERT INTO engagement_leaderboard_entries "
            "(tenant_id, board, period, member_id, neg_score, reached_at) "
            "SELECT :t, :b, :p, m, -s, r FROM unnest("
            "CAST(:ms AS uuid[]), CAST(:ss AS bigint[]), CAST(:rs AS timestamptz[])) AS x(m, s, r) "
            "ON CONFLICT DO NOTHING"
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
        await self.rebuild_counts(tenant_id, board, period)

    async def rebuild_counts(self, tenant_id: uuid.UUID, board: str, period: str) -> None:
        key = {"t": tenant_id, "b": board, "p": period}
        await self.session.execute(
            text(f"DELETE FROM engagement_leaderboard_counts WHERE {_KEY}"), key
        )
        await self.session.execute(
            text(
                "INSERT INTO engagement_leaderboard_counts (tenant_id, board, period, bucket, n) "
                "SELECT tenant_id, board, period, ludus_lb_bucket(-neg_score), count(*) "
                f"FROM engagement_leaderboard_entries WHERE {_KEY} GROUP BY 1, 2, 3, 4"
            ),
            key,
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
        mine = bucket(-me[0])
        _, top = bucket_range(mine)
        ahead = await self.session.scalar(
            text(
                "SELECT (SELECT coalesce(sum(n), 0) FROM engagement_leaderboard_counts "
                f"WHERE {_KEY} AND bucket > :bk) + (SELECT count(*) "
                f"FROM engagement_leaderboard_entries WHERE {_KEY} AND neg_score >= :lo "
                "AND (neg_score, reached_at, member_id) < (:n, :r, :m))"
            ),
            {
                "t": tenant_id,
                "b": board,
                "p": period,
                "n": me[0],
                "r": me[1],
                "m": member_id,
                "bk": mine,
                "lo": -top,
            },
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
