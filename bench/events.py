"""Events delivered per second, end to end: `emit` in committed transactions → Procrastinate
job → handler ran (its idempotency row committed with it).

    .venv/bin/python bench/events.py                 # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://... .venv/bin/python bench/events.py
    .venv/bin/python bench/events.py --events 500 --concurrency 4   # quicker

First, Procrastinate's own ceiling: no-op jobs/s on the same server (reference).
Phase 1 emits a backlog (emits/s), then one in-process worker drains it (delivered/s).
Phase 2 emits and delivers at the same time and reports emit→handler latency p50/p95.
The bench tenant has no webhook subscription, so each event is one handler job (the fan-out
handler is skipped at emit). Bounded by --timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from sqlalchemy.ext.asyncio import AsyncSession

warnings.simplefilter("ignore")
os.environ.setdefault("LUDUS_LOG_LEVEL", "WARNING")

from ludus.core.events.registry import handler  # noqa: E402
from ludus.core.events.schemas import Event  # noqa: E402
from ludus.core.events.service import emit  # noqa: E402
from ludus.core.jobs.defer import JobSpec, defer_many  # noqa: E402
from ludus.core.jobs.registry import job  # noqa: E402
from ludus.core.jobs.runner import run_pending  # noqa: E402
from ludus.core.jobs.worker import discover_tasks, run_worker  # noqa: E402
from ludus.core.kit.clock import utcnow  # noqa: E402
from ludus.core.kit.db import Database, set_database  # noqa: E402
from ludus.core.kit.embedded import to_libpq_url  # noqa: E402
from ludus.core.kit.migrate import upgrade  # noqa: E402
from ludus.core.tenancy.models import Tenant, TenantKind  # noqa: E402

latencies: list[float] = []
delivered = 0


@handler("bench.ping", name="bench.count")
async def count(session: AsyncSession, event: Event) -> None:
    global delivered
    delivered += 1
    latencies.append((utcnow() - event.timestamp).total_seconds())


@job("bench.noop", queue="bench_noop")
async def noop(i: int) -> None:
    return None


async def noop_baseline(db: Database, total: int, concurrency: int) -> float:
    """Procrastinate alone: no-op jobs/s on the same server, for comparison."""
    async with db.session(system=True) as s:
        await defer_many(s, [JobSpec("bench.noop", {"i": i}) for i in range(total)])
    started = time.perf_counter()
    await run_pending(db, queues=["bench_noop"], concurrency=concurrency)
    return total / (time.perf_counter() - started)


def server_url() -> tuple[str, Path | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return to_libpq_url(url), None
    from ludus.core.kit.embedded import embedded_uri

    pgdata = Path(tempfile.mkdtemp(prefix="ludus-bench-events-")) / "pgdata"
    return embedded_uri(pgdata), pgdata


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def emit_many(db: Database, tenant_id: uuid.UUID, total: int, producers: int) -> float:
    """Emit `total` events, one per committed transaction, from `producers` tasks."""
    per = total // producers

    async def producer() -> None:
        for i in range(per):
            async with db.session(tenant_id=tenant_id) as s:
                await emit(
                    s, event_type="bench.ping", tenant_id=tenant_id, data={"i": i}, source="bench"
                )

    started = time.perf_counter()
    await asyncio.gather(*(producer() for _ in range(producers)))
    return time.perf_counter() - started


async def wait_for(target: int, deadline: float) -> bool:
    while delivered < target:
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def run(url: str, args: argparse.Namespace) -> None:
    global delivered
    db = Database(url)
    set_database(db)
    discover_tasks()
    tenant_id = uuid.uuid4()
    async with db.session(system=True) as s:
        s.add(
            Tenant(
                id=tenant_id,
                slug=f"bench-{tenant_id.hex[:8]}",
                name="Bench",
                kind=TenantKind.business,
                theme={},
                features={},
                config={},
                products=[],
            )
        )
    total = args.events - args.events % args.producers
    deadline = time.perf_counter() + args.timeout
    baseline = await noop_baseline(db, total, args.concurrency)
    print(f"reference: Procrastinate no-op jobs, concurrency {args.concurrency}: {baseline:,.0f}/s")

    emit_seconds = await emit_many(db, tenant_id, total, args.producers)
    print(f"emit (committed, {args.producers} producers): {total / emit_seconds:,.0f} events/s")

    delivered = 0
    started = time.perf_counter()
    worker = asyncio.create_task(
        run_worker(db, concurrency=args.concurrency, install_signal_handlers=False)
    )
    done = await wait_for(total, deadline)
    drain = time.perf_counter() - started
    print(
        f"drain backlog (worker concurrency {args.concurrency}): {delivered / drain:,.0f} events/s "
        f"delivered ({delivered}/{total} in {drain:.2f}s)" + ("" if done else "  [timed out]")
    )

    delivered = 0
    latencies.clear()
    started = time.perf_counter()
    await emit_many(db, tenant_id, total, args.producers)
    done = await wait_for(total, deadline)
    live = time.perf_counter() - started
    if latencies:
        ordered = sorted(latencies)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        print(
            f"live (emit and deliver together): {delivered / live:,.0f} events/s end to end, "
            f"latency p50 {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
            + ("" if done else "  [timed out]")
        )
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()

    server, _ = server_url()
    name = f"ludus_bench_events_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_db(server, name)
    try:
        upgrade(url)
        asyncio.run(run(url, args))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
