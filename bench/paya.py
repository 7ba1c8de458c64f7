"""PaYa P2P sends per second, latency, and live-feed fan-out latency, against a real server.

    .venv/bin/python bench/paya.py                       # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://... .venv/bin/python bench/paya.py --seconds 5 --workers 2

Starts `ludus serve` (uvicorn, --workers N) on a fresh database, seeds a PaYa tenant with
128 funded members (through the real load flow against the sandbox bank), then drives
`POST /api/v1/paya/transfers` (each with its own Idempotency-Key) at 8 and 64 concurrent
senders, to uniform recipients and to one hot merchant (listed in `hot_recipients`, so
credited through a sharded incoming account; then the same load to a plain wallet for
comparison), and reports sends/s, p50/p95/p99, the server's CPU time per request (a figure
that holds up on a shared machine), the database backends' CPU time per request (when
PostgreSQL runs on this machine) and the load average; `GET /api/v1/me` first, as the
platform's floor. Then: 200 concurrent sends from one sender funded for 100 (exactly 100
must succeed, and replaying the 200 keys must not send again), and the feed fan-out
latency from the payment's commit to SSE clients spread over the server processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_auth import (  # noqa: E402
    LUDUS,
    Conn,
    drop_database,
    free_port,
    get_request,
    make_database,
    post_request,
    server_env,
    wait_ready,
)

MEMBERS = 128
OPEN = {
    "limits": {
        "max_transfer": 1_000_000, "sends_per_hour": 10_000_000, "sends_per_day": 10_000_000,
        "unique_recipients_per_day": 10_000_000, "max_load_per_week": 100_000_000,
    },
    "new_account": {"first_week_max_load": 100_000_000, "cooling_daily_send_limit": 100_000_000},
    "hot_recipients": ["member0"],  # the hot merchant: credited through a sharded account
}  # fmt: skip


async def seed(url: str) -> tuple[str, list[tuple[str, str]], tuple[str, str]]:
    """Tenant, members [(username, token)] funded with 1,000,000 tokens each, and a sender
    funded with exactly 100 for the concurrency check."""
    os.environ["DATABASE_URL"] = url
    from ludus.core.auth.models import AuthSession, Membership, Role, User
    from ludus.core.auth.tokens import issue_access_token
    from ludus.core.kit.db import Database, set_database
    from ludus.core.tenancy.models import Tenant, TenantKind
    from ludus.paya import adapters, money, service
    from ludus.paya.adapters.sandbox import SandboxDwolla
    from ludus.paya.schemas import ProfileCreate
    from ludus.paya.tasks import process_movement

    adapters.use(dwolla=SandboxDwolla(settle_seconds=0))
    db = Database(url)
    set_database(db)
    tenant = Tenant(
        id=uuid.uuid4(), slug=f"paya-bench-{uuid.uuid4().hex[:6]}", name="PaYa bench",
        kind=TenantKind.payment_network, products=["paya"], config={"paya": OPEN},
        theme={}, features={}, status="active", default_locale="en", currency="USD",
        timezone="UTC",
    )  # fmt: skip
    async with db.session(system=True) as s:
        s.add(tenant)

    async def member(name: str, amount: int) -> tuple[str, str]:
        async with db.session(system=True) as s:
            user = User(id=uuid.uuid4(), email=f"{name}@bench.invalid", display_name=name)
            s.add(user)
            await s.flush()
            s.add(Membership(id=uuid.uuid4(), tenant_id=tenant.id, user_id=user.id,
                             role=Role.member))  # fmt: skip
            sess = AuthSession(id=uuid.uuid4(), tenant_id=tenant.id, user_id=user.id)
            s.add(sess)
            await s.flush()
            token, _ = await issue_access_token(
                s, user_id=user.id, tenant_id=tenant.id, role="member", session_id=sess.id
            )
        async with db.session(tenant_id=tenant.id) as s:
            await service.create_profile(s, tenant.id, user.id, ProfileCreate(username=name))
            profile = await service.require_profile(s, tenant.id, user.id)
            profile.created_at = datetime(2020, 1, 1, tzinfo=UTC)
            await money.link_bank(s, tenant.id, user.id, "public-sandbox-bench", None)
        async with db.session(tenant_id=tenant.id) as s:
            movement = await money.request_load(s, tenant.id, user.id, amount, None, None)
        for _ in range(2):
            await process_movement(db, movement.id)
        return name, token

    members = [await member(f"member{i}", 1_000_000) for i in range(MEMBERS)]
    limited = await member("limited", 100)
    await db.dispose()
    return tenant.slug, members, limited


def transfer(token: str, to: str, public: bool = True, key: str | None = None) -> bytes:
    return post_request(
        "/api/v1/paya/transfers",
        {"to": to, "amount": 1, "memo": "bench", "public": public},
        {"Authorization": f"Bearer {token}", "Idempotency-Key": key or uuid.uuid4().hex},
    )


SERVER_PID = 0  # the `ludus serve` process; its tree's CPU time is reported per request
DATABASE = ""  # the bench's fresh database (superuser URL)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds() -> float:
    """CPU time (user + system) of the server process and its workers, from /proc."""
    total, pending = 0.0, [SERVER_PID]
    while pending:
        pid = pending.pop()
        try:
            total += _cpu_seconds(pid)
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def database_cpu() -> dict[int, float]:
    """CPU time of each PostgreSQL backend serving the bench database (when PostgreSQL runs
    on this machine and /proc shows its processes; else empty)."""
    with psycopg.connect(DATABASE, autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    found: dict[int, float] = {}
    for (pid,) in pids:
        try:
            found[pid] = _cpu_seconds(pid)
        except (OSError, ValueError):
            continue
    return found


async def drive(
    port: int, clients: list[tuple[str, str]], make: Any, expect: int, seconds: float
) -> dict[str, float]:
    """Each client sends `make(name, token)` back to back; latencies after a warm-up."""
    conns = [await Conn.open(port) for _ in clients]
    latencies: list[float] = []
    errors = total = 0
    warmup_until = time.perf_counter() + min(1.0, seconds / 3)
    stop = warmup_until + seconds
    cpu, db_cpu = server_cpu_seconds(), database_cpu()

    async def loop(conn: Conn, name: str, token: str) -> None:
        nonlocal errors, total
        while (t0 := time.perf_counter()) < stop:
            status = await conn.request(make(name, token))
            total += 1
            if t0 >= warmup_until:
                latencies.append(time.perf_counter() - t0)
                errors += status != expect

    await asyncio.gather(*(loop(c, n, t) for c, (n, t) in zip(conns, clients, strict=True)))
    for c in conns:
        c.close()
    result = summary(latencies, seconds, errors)
    result["cpu_ms"] = (server_cpu_seconds() - cpu) / max(total, 1) * 1000
    # backends opened during the level count whole (a pool keeps its connections open)
    db_used = sum(t - db_cpu.get(pid, 0.0) for pid, t in database_cpu().items())
    result["db_cpu_ms"] = db_used / max(total, 1) * 1000
    analyze()
    return result


def analyze() -> None:
    """Refresh planner statistics after each level, as autovacuum does on a database that
    has been running a while: on a fresh one the payments table grows from empty faster
    than autovacuum notices, and plans made for an empty table would be measured instead."""
    with psycopg.connect(DATABASE, autocommit=True) as conn:
        conn.execute("ANALYZE")


async def drive_sends(
    port: int, senders: list[tuple[str, str]], recipients: list[str], seconds: float
) -> dict[str, float]:
    rng = random.Random(7)

    def make(name: str, token: str) -> bytes:
        to = rng.choice(recipients)
        while to == name:
            to = rng.choice(recipients)
        return transfer(token, to, public=False)

    return await drive(port, senders, make, 201, seconds)


def summary(latencies: list[float], seconds: float, errors: int) -> dict[str, float]:
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"n": len(latencies), "rps": len(latencies) / seconds, "p50": pct(0.5),
            "p95": pct(0.95), "p99": pct(0.99), "errors": errors}  # fmt: skip


def report(label: str, r: dict[str, float]) -> None:
    print(
        f"{label:<40} {r['rps']:>7.0f}/s  p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms"
        f"  p99 {r['p99']:6.1f} ms  server CPU {r['cpu_ms']:4.1f} ms/req"
        f"  db CPU {r['db_cpu_ms']:4.1f} ms/req"
        f"  (n={int(r['n'])}, unexpected={int(r['errors'])}, load {os.getloadavg()[0]:.1f})"
    )


async def double_spend_check(port: int, limited: tuple[str, str], to: str) -> None:
    keys = [uuid.uuid4().hex for _ in range(200)]

    async def one(key: str) -> int:
        conn = await Conn.open(port)
        try:
            return await conn.request(transfer(limited[1], to, public=False, key=key))
        finally:
            conn.close()

    first = await asyncio.gather(*(one(k) for k in keys))
    again = await asyncio.gather(*(one(k) for k in keys))
    ok, replay_ok = first.count(201), again.count(201)
    statuses = dict(sorted(Counter(first).items()))
    print(
        f"200 concurrent sends, funds for 100: {ok} succeeded, statuses {statuses}; "
        f"replaying the 200 keys: {replay_ok} answered 201"
    )
    if ok != 100 or replay_ok != 100:
        raise SystemExit("double-spend check FAILED")


async def feed_latency(base: str, slug: str, members: list[tuple[str, str]], count: int) -> None:
    received: list[float] = []
    ready = 0
    clients = 4

    async def listen() -> None:
        nonlocal ready
        async with (
            httpx.AsyncClient(timeout=None) as http,
            http.stream("GET", f"{base}/api/v1/paya/feed/stream", headers={"X-Tenant": slug}) as r,
        ):
            event = None
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "ready":
                    ready += 1
                elif line.startswith("data:") and event == "payment":
                    item = json.loads(line[5:])
                    at = datetime.fromisoformat(item["created_at"]).timestamp()
                    received.append(time.time() - at)

    tasks = [asyncio.create_task(listen()) for _ in range(clients)]
    while ready < clients:
        await asyncio.sleep(0.05)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for i in range(count):
            _, token = members[i % len(members)]
            to = members[(i + 1) % len(members)][0]
            await http.post("/api/v1/paya/transfers", json={"to": to, "amount": 1, "memo": "hi",
                                                            "public": True},
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            await asyncio.sleep(0.01)
    await asyncio.sleep(1.0)
    for t in tasks:
        t.cancel()
    r = summary(received, 1.0, count * clients - len(received))
    print(f"feed fan-out insert→SSE client ({clients} clients, {count} payments): "
          f"p50 {r['p50']:.1f} ms  p95 {r['p95']:.1f} ms  p99 {r['p99']:.1f} ms  "
          f"(deliveries {int(r['n'])}, missed {int(r['errors'])})")  # fmt: skip


async def run(port: int, slug: str, members: list[tuple[str, str]], limited: Any,
              seconds: float) -> None:  # fmt: skip
    names = [n for n, _ in members]
    await drive_sends(port, members[:8], names, 2)  # warm-up (not reported), then statistics
    me = await drive(port, members[:8], lambda _, t: get_request("/api/v1/me", t), 200, seconds)
    report("GET /api/v1/me (floor)  c=8", me)
    for concurrency in (8, 64):
        senders = members[:concurrency]
        report(f"P2P uniform recipients  c={concurrency}",
               await drive_sends(port, senders, names, seconds))  # fmt: skip
        report(
            f"P2P one hot merchant    c={concurrency}",
            await drive_sends(port, members[2 : concurrency + 2], [names[0]], seconds),
        )
        report(
            f"  same, plain wallet    c={concurrency}",
            await drive_sends(port, members[2 : concurrency + 2], [names[1]], seconds),
        )
    await double_spend_check(port, limited, names[0])
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        me = await http.get("/api/v1/paya/me", headers={"Authorization": f"Bearer {limited[1]}"})
        balance = me.json()["data"]["balance"]
    print(f"limited sender balance after: {balance} (expected 0)")
    await feed_latency(f"http://127.0.0.1:{port}", slug, members, 200)


def show_errors(path: Path, limit: int = 5) -> None:
    """The server's first error lines, so an unexpected status can be explained."""
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if "error" in ln.lower()]
    if lines:
        print(f"server log: {len(lines)} lines mention an error; the first {limit}:")
        for line in lines[:limit]:
            print("  " + line[:400])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="ludus-bench-"))
    url, server = make_database(data_dir)
    env = server_env(url, data_dir, args.log_level)
    os.environ.update({k: env[k] for k in ("LUDUS_SECRET_KEY", "LUDUS_DATA_DIR")})
    port = free_port()
    log = (data_dir / "server.log").open("wb")  # warnings and errors only (--log-level)
    proc = subprocess.Popen(
        [LUDUS, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    global SERVER_PID, DATABASE
    SERVER_PID, DATABASE = proc.pid, url
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, timeout=600)
        slug, members, limited = asyncio.run(seed(url))
        analyze()
        print(f"ludus serve --workers {args.workers} on :{port}, {os.cpu_count()} CPUs, "
              f"{args.seconds:g} s per level, {MEMBERS} members")  # fmt: skip
        asyncio.run(run(port, slug, members, limited, args.seconds))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        drop_database(server, url)
        log.close()
        show_errors(data_dir / "server.log")
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
