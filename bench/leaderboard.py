"""Leaderboard bench: score updates/s and rank-of-me p95, PostgreSQL vs Redis, at 100k and 1M
members (loaded with COPY / pipelined ZADD; not part of the timings).

    .venv/bin/python bench/leaderboard.py                      # embedded PostgreSQL
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/leaderboard.py --sizes 100000,1000000

Each rank-of-me and each update runs in its own transaction, as a request would.
Targets at 1M: rank-of-me p95 < 5 ms (Redis), < 50 ms (PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta

import psycopg

warnings.simplefilter("ignore")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from redis.asyncio import Redis  # noqa: E402

from bench._engagement_db import (  # noqa: E402
    create_db,
    database,
    drop_db,
    make_tenant,
    p95,
    server_url,
)
from ludus.core.kit.db import Database  # noqa: E402
from ludus.engagement.leaderboards.base import Entry  # noqa: E402
from ludus.engagement.leaderboards.postgres import PostgresBackend  # noqa: E402
from ludus.engagement.leaderboards.redis import RedisBackend, encode  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def members(n: int, seed: int) -> list[Entry]:
    rng = random.Random(seed)
    return [
        Entry(
            uuid.UUID(int=rng.getrandbits(128)),
            rng.randrange(0, 1_000_000),
            T0 + timedelta(seconds=rng.randrange(0, 86_400)),
        )
        for _ in range(n)
    ]


def copy_pg(url: str, tenant: uuid.UUID, board: str, rows: list[Entry]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.cursor().copy(
            "COPY engagement_leaderboard_entries "
            "(tenant_id, board, period, member_id, neg_score, reached_at) FROM STDIN"
        ) as copy:
            for e in rows:
                copy.write_row((tenant, board, "all", e.member_id, -e.score, e.reached_at))
        conn.execute(
            "INSERT INTO engagement_leaderboard_counts (tenant_id, board, period, bucket, n) "
            "SELECT tenant_id, board, period, ludus_lb_bucket(-neg_score), count(*) "
            "FROM engagement_leaderboard_entries WHERE tenant_id = %s AND board = %s "
            "GROUP BY 1, 2, 3, 4",
            (tenant, board),
        )
        conn.execute("VACUUM ANALYZE engagement_leaderboard_entries")
        conn.execute("VACUUM ANALYZE engagement_leaderboard_counts")


async def load_redis(
    client: Redis, backend: RedisBackend, tenant: uuid.UUID, board: str, rows: list[Entry]
) -> None:
    z, h = backend._keys(tenant, board, "all")
    await client.delete(z, h)
    for i in range(0, len(rows), 20_000):
        chunk = rows[i : i + 20_000]
        keys = {str(e.member_id): encode(e.member_id, e.score, e.reached_at) for e in chunk}
        async with client.pipeline(transaction=False) as pipe:
            pipe.zadd(z, dict.fromkeys(keys.values(), 0))
            pipe.hset(h, mapping=keys)
            await pipe.execute()


async def measure(
    db: Database,
    redis_backend: RedisBackend | None,
    tenant: uuid.UUID,
    board: str,
    rows: list[Entry],
    samples: int,
    clients: int,
) -> dict:
    rng = random.Random(3)
    picks = [rng.choice(rows).member_id for _ in range(samples)]
    out: dict[str, float] = {}

    async def pg_rank(member: uuid.UUID) -> None:
        async with db.session(tenant_id=tenant) as s:
            await PostgresBackend(s).rank_of(tenant, board, "all", member)

    async def pg_update(member: uuid.UUID) -> None:
        async with db.session(tenant_id=tenant) as s:
            await PostgresBackend(s).submit(
                tenant, board, "all", member, rng.randrange(1, 50), datetime.now(UTC), "add"
            )

    async def run(name: str, fn, items: list[uuid.UUID]) -> None:
        """Latency with one client (no queueing in our event loop), then throughput with
        `clients` concurrent clients."""
        lat: list[float] = []
        for m in items[: len(items) // 2]:
            t = time.perf_counter()
            await fn(m)
            lat.append(time.perf_counter() - t)
        queue = list(items)

        async def worker() -> None:
            while queue:
                await fn(queue.pop())

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        out[f"{name}_per_s"] = len(items) / (time.perf_counter() - start)
        out[f"{name}_p95_ms"] = p95(lat)

    await run("pg_rank", pg_rank, picks)
    await run("pg_update", pg_update, picks)
    if redis_backend is not None:
        rb = redis_backend

        async def rd_rank(member: uuid.UUID) -> None:
            await rb.rank_of(tenant, board, "all", member)

        async def rd_update(member: uuid.UUID) -> None:
            await rb.submit(
                tenant, board, "all", member, rng.randrange(1, 50), datetime.now(UTC), "add"
            )

        await run("redis_rank", rd_rank, picks)
        await run("redis_update", rd_update, picks)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    server = server_url()
    name = f"ludus_bench_lb_{uuid.uuid4().hex[:8]}"
    url = create_db(server, name)
    db = database(url, args.clients + 2)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    client = Redis.from_url(redis_url)
    try:
        await client.ping()
        prefix = f"bench:{uuid.uuid4().hex[:8]}:"
        redis_backend: RedisBackend | None = RedisBackend(client, prefix)
    except OSError:
        redis_backend = None
        print(f"Redis not reachable at {redis_url}: PostgreSQL only")
    try:
        tenant = await make_tenant(db)
        for size in (int(s) for s in args.sizes.split(",")):
            board = f"metric:bench{size}"
            rows = members(size, size)
            t = time.perf_counter()
            pg_load = asyncio.create_task(asyncio.to_thread(copy_pg, url, tenant, board, rows))
            if redis_backend is not None:
                await load_redis(client, redis_backend, tenant, board, rows)
            load_rd = time.perf_counter() - t
            await pg_load
            load_pg = time.perf_counter() - t
            r = await measure(db, redis_backend, tenant, board, rows, args.samples, args.clients)
            print(
                f"\n{size:,} members (loaded side by side: PostgreSQL COPY {load_pg:.1f}s, "
                f"Redis {load_rd:.1f}s; {args.samples} ops: p95 with 1 client, "
                f"throughput with {args.clients})"
            )
            print(
                f"  {'':12} {'rank p95 ms':>12} {'ranks/s':>10} {'update p95 ms':>14} "
                f"{'updates/s':>10}"
            )
            for label, key in (("PostgreSQL", "pg"), ("Redis", "redis")):
                if f"{key}_rank_p95_ms" in r:
                    print(
                        f"  {label:12} {r[f'{key}_rank_p95_ms']:12.2f} "
                        f"{r[f'{key}_rank_per_s']:10.0f} {r[f'{key}_update_p95_ms']:14.2f} "
                        f"{r[f'{key}_update_per_s']:10.0f}"
                    )
    finally:
        if redis_backend is not None:
            keys = [k async for k in client.scan_iter(match=redis_backend.prefix + "*")]
            if keys:
                await client.delete(*keys)
        await client.aclose()
        await db.dispose()
        drop_db(server, name)


if __name__ == "__main__":
    asyncio.run(main())
