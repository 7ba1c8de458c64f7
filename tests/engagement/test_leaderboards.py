"""Leaderboards: PostgreSQL and Redis backends agree on ranks, windows and ties."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.engagement.leaderboards.base import Entry, order_key, rank_subset
from ludus.engagement.leaderboards.postgres import PostgresBackend
from ludus.engagement.leaderboards.redis import RedisBackend
from ludus.engagement.leaderboards.service import period_key, submit_metric
from tests.factories import make_tenant

N = 10_000
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def population(seed: int) -> list[Entry]:
    rng = random.Random(seed)
    # Few distinct scores and times so ties on score AND on time are common.
    return [
        Entry(
            uuid.UUID(int=rng.getrandbits(128)),
            rng.randrange(0, 300),
            T0 + timedelta(seconds=rng.randrange(0, 20)),
        )
        for _ in range(N)
    ]


def expected(rows: list[Entry]) -> dict[uuid.UUID, int]:
    return {e.member_id: i for i, e in enumerate(sorted(rows, key=order_key), 1)}


class TestBackendsAgree:
    async def test_ten_thousand_members(
        self, db, session: AsyncSession, redis_client: Redis, redis_prefix: str
    ) -> None:
        tenant = await make_tenant(db)
        rows = population(7)
        ranks = expected(rows)
        pg, rd = PostgresBackend(session), RedisBackend(redis_client, redis_prefix)
        for backend in (pg, rd):
            await backend.bulk_load(tenant.id, "metric:xp", "all", rows)
        assert await pg.count(tenant.id, "metric:xp", "all") == N
        assert await rd.count(tenant.id, "metric:xp", "all") == N
        sample = random.Random(1).sample(rows, 60)
        for e in sample:
            mine_pg = await pg.rank_of(tenant.id, "metric:xp", "all", e.member_id)
            mine_rd = await rd.rank_of(tenant.id, "metric:xp", "all", e.member_id)
            assert mine_pg == mine_rd
            assert mine_pg is not None and mine_pg.rank == ranks[e.member_id]
            assert (mine_pg.score, mine_pg.reached_at) == (e.score, e.reached_at)
            w_pg = await pg.around(tenant.id, "metric:xp", "all", e.member_id, 3)
            w_rd = await rd.around(tenant.id, "metric:xp", "all", e.member_id, 3)
            assert w_pg == w_rd
            assert [x.rank for x in w_pg] == list(
                range(max(1, ranks[e.member_id] - 3), min(N, ranks[e.member_id] + 3) + 1)
            )
            assert all(ranks[x.member_id] == x.rank for x in w_pg)
        top_pg = await pg.top(tenant.id, "metric:xp", "all", 0, 50)
        assert top_pg == await rd.top(tenant.id, "metric:xp", "all", 0, 50)
        assert [ranks[x.member_id] for x in top_pg] == list(range(1, 51))
        last = await pg.top(tenant.id, "metric:xp", "all", N - 5, 50)
        assert last == await rd.top(tenant.id, "metric:xp", "all", N - 5, 50)
        assert [x.rank for x in last] == list(range(N - 4, N + 1))

        # Random updates on both; ranks still agree, and the PostgreSQL bucket counts equal
        # a rebuild from scratch.
        rng = random.Random(2)
        for i in range(300):
            member = rng.choice(rows).member_id
            value, mode = rng.randrange(-50, 400), rng.choice(["set", "add", "max"])
            at = T0 + timedelta(minutes=i)
            for backend in (pg, rd):
                await backend.submit(tenant.id, "metric:xp", "all", member, value, at, mode)
        counts = text(
            "SELECT bucket, n FROM engagement_leaderboard_counts WHERE tenant_id = :t "
            "AND n <> 0 ORDER BY bucket"
        )
        live = (await session.execute(counts, {"t": tenant.id})).all()
        await pg.rebuild_counts(tenant.id, "metric:xp", "all")
        assert live == (await session.execute(counts, {"t": tenant.id})).all()
        for e in random.Random(4).sample(rows, 40):
            assert await pg.rank_of(tenant.id, "metric:xp", "all", e.member_id) == (
                await rd.rank_of(tenant.id, "metric:xp", "all", e.member_id)
            )

    async def test_updates_and_ties_are_stable(
        self, db, session: AsyncSession, redis_client: Redis, redis_prefix: str
    ) -> None:
        tenant = await make_tenant(db)
        a, b, c = sorted(uuid.uuid4() for _ in range(3))
        pg, rd = PostgresBackend(session), RedisBackend(redis_client, redis_prefix)
        script = [
            (c, 10, 0, "add"),
            (b, 10, 0, "add"),
            (a, 5, 1, "add"),
            (a, 5, 2, "add"),  # a reaches 10 last
            (b, 10, 3, "set"),  # same score: keeps its earlier reach time
            (c, 3, 4, "max"),  # lower: ignored
            (c, 0, 5, "add"),  # no change
        ]
        for backend in (pg, rd):
            for member, value, minute, mode in script:
                await backend.submit(
                    tenant.id, "b", "all", member, value, T0 + timedelta(minutes=minute), mode
                )
        top_pg = await pg.top(tenant.id, "b", "all", 0, 10)
        assert top_pg == await rd.top(tenant.id, "b", "all", 0, 10)
        # b and c both reached 10 at minute 0 → id order (b < c); a reached 10 at minute 2.
        assert [(x.member_id, x.score, x.rank) for x in top_pg] == [
            (b, 10, 1),
            (c, 10, 2),
            (a, 10, 3),
        ]
        for backend in (pg, rd):
            assert await backend.submit(tenant.id, "b", "all", a, 11, T0, "max") == 11
        assert (await pg.rank_of(tenant.id, "b", "all", a)) == (
            await rd.rank_of(tenant.id, "b", "all", a)
        )
        assert (await pg.rank_of(tenant.id, "b", "all", a)).rank == 1

    async def test_subset_boards_and_periods(
        self, db, session: AsyncSession, redis_client: Redis, redis_prefix: str
    ) -> None:
        tenant = await make_tenant(db)
        members = [uuid.uuid4() for _ in range(20)]
        pg, rd = PostgresBackend(session), RedisBackend(redis_client, redis_prefix)
        at = datetime(2026, 11, 23, 12, tzinfo=UTC)
        for backend in (pg, rd):
            for i, m in enumerate(members):
                await submit_metric(
                    backend, tenant_id=tenant.id, metric="xp", member_id=m, value=i * 10, at=at
                )
        assert period_key("weekly", at) == "w2026-48" and period_key("monthly", at) == "m2026-11"
        friends = members[3:8]
        for period in ("all", "w2026-48", "m2026-11"):
            sub_pg = rank_subset(await pg.entries_for(tenant.id, "metric:xp", period, friends))
            sub_rd = rank_subset(await rd.entries_for(tenant.id, "metric:xp", period, friends))
            assert sub_pg == sub_rd
            assert [e.member_id for e in sub_pg] == friends[::-1]
            assert [e.rank for e in sub_pg] == [1, 2, 3, 4, 5]


class TestBuckets:
    async def test_sql_bucket_matches_python(self, session: AsyncSession) -> None:
        from ludus.engagement.leaderboards.base import bucket, bucket_range

        rng = random.Random(5)
        values = [rng.randrange(-(10**15), 10**15) for _ in range(2000)]
        values += [v for k in range(60) for v in (2**k - 1, 2**k, -(2**k))] + list(range(-300, 300))
        rows = await session.execute(
            text("SELECT v, ludus_lb_bucket(v) FROM unnest(CAST(:vs AS bigint[])) AS v"),
            {"vs": values},
        )
        for value, sql_bucket in rows:
            assert sql_bucket == bucket(value)
            lo, hi = bucket_range(sql_bucket)
            assert lo <= value <= hi
        ordered = sorted(values)
        assert [bucket(v) for v in ordered] == sorted(bucket(v) for v in ordered)
