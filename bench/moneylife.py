"""MoneyLife service benchmark against a real PostgreSQL.

    .venv/bin/python bench/moneylife.py                  # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/moneylife.py
    BENCH_GAMES=100000 BENCH_SECONDS=30 .venv/bin/python bench/moneylife.py

1. Engine month-end games/s on one core (no I/O): `run_month_end` over prepared states.
2. API latency: `ludus serve` (BENCH_SERVER_WORKERS processes, default 2 = one per core)
   on a fresh database; 32 players each create a game, then loop: decide every pending card
   (POST card-decision), advance the day (POST advance-day). Two passes of BENCH_SECONDS
   (default 20): back to back with no think time (a saturation test: latency = queueing
   behind 31 others), then with a think time of ~BENCH_THINK_MS (default 1,000 ms, uniform
   ±50 %) before each request, like players reading a card. p50/p95/p99 per endpoint, the
   load average, and the CPU per request of the server processes and of the PostgreSQL
   backends serving the bench database (a local server; CPU is what the latency is made
   of when the machine is shared, so compare changes by it).
3. Month-end at scale: BENCH_GAMES stored games (default 20,000) sitting on 31 January are
   written with COPY; two `ludus worker -q moneylife --concurrency 1` processes start and
   idle, then `monthend.plan` splits the games into 500-game batches and the workers run
   them. Prints the wall time from planning to the last batch, the time extrapolated to
   100,000 games (the work is linear in games: fixed-size batches), and the worker and
   PostgreSQL CPU per game.
Targets (2-core machine): engine ≥ 5,000 games/s; 100,000 games < 5 min; advance-day p95
< 50 ms; card-decision p95 < 30 ms.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_auth import (
    LUDUS,
    drop_database,
    free_port,
    make_database,
    seed,
    server_env,
    tree_cpu_seconds,
    wait_ready,
)

warnings.simplefilter("ignore")
PLAYERS = int(os.environ.get("BENCH_PLAYERS", "32"))
GAMES = int(os.environ.get("BENCH_GAMES", "20000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
DROPPED = 0
THINK = float(os.environ.get("BENCH_THINK_MS", "1000")) / 1000
SERVER_WORKERS = int(os.environ.get("BENCH_SERVER_WORKERS", "2"))
TEMPLATES = 64


def engine_phase() -> None:
    """The engine's own benchmark (bench/moneylife_engine.py): one core, no I/O."""
    import moneylife_engine

    moneylife_engine.main()


def db_cpu_seconds(url: str) -> float:
    """CPU of the PostgreSQL backends connected to the bench database (local server only)."""
    name = urlsplit(url).path.lstrip("/")  # the URL may carry ?host=<socket dir>
    with psycopg.connect(url, autocommit=True) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        ]
    return sum(tree_cpu_seconds(pid) for pid in pids)


def cpu_line(label: str, app_cpu: float, db_cpu: float, count: int) -> str:
    per = 1000 / max(1, count)
    return f"{label}: {app_cpu * per:.2f} ms app CPU + {db_cpu * per:.2f} ms PostgreSQL CPU"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] * 1000


async def new_game(client: httpx.AsyncClient, token: str) -> str:
    resp = await client.post(
        "/api/v1/game/create",
        json={"persona": "young_adult"},
        headers={"Authorization": f"Bearer {token}"},
    )
    if resp.status_code != 201:
        raise SystemExit(f"create failed: {resp.status_code} {resp.text[:300]}")
    return str(resp.json()["data"]["game_id"])


async def post(client: httpx.AsyncClient, url: str, **kwargs: object) -> httpx.Response:
    """POST, retrying on a dropped keep-alive connection (counted in `DROPPED`)."""
    global DROPPED
    for attempt in range(3):
        try:
            return await client.post(url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            DROPPED += 1
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def player(
    client: httpx.AsyncClient,
    token: str,
    game: str,
    stop: float,
    lat: dict[str, list[float]],
    think: float,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    base = f"/api/v1/game/{game}"
    summary = (await client.get(base + "/summary", headers=headers)).json()["data"]
    version, day, cards = (
        summary["state_version"],
        summary["current_game_date"],
        summary["pending_cards"],
    )
    while time.perf_counter() < stop:
        for card in cards:
            if think:
                await asyncio.sleep(random.uniform(0.5, 1.5) * think)
            option = min(card["options"], key=lambda o: o["cost"] - o["gain"])["option_id"]
            t0 = time.perf_counter()
            resp = await post(
                client,
                base + "/card-decision",
                headers=headers,
                json={
                    "card_instance_id": card["card_instance_id"],
                    "selected_option_id": option,
                    "state_version": version,
                },
            )
            if resp.status_code == 200:
                lat["card-decision"].append(time.perf_counter() - t0)
                version = resp.json()["data"]["state_version"]
            else:
                if resp.status_code != 422:
                    print("card-decision:", resp.status_code, resp.text[:300])
                resp = await post(
                    client,
                    base + "/actions",
                    headers=headers,
                    json={"action": {"type": "skip_all_cards"}, "state_version": version},
                )
                version = resp.json()["data"]["state_version"]
                break
        if think:
            await asyncio.sleep(random.uniform(0.5, 1.5) * think)
        t0 = time.perf_counter()
        resp = await post(
            client,
            base + "/advance-day",
            headers=headers,
            json={"current_game_date": day, "state_version": version},
        )
        if resp.status_code == 200:
            lat["advance-day"].append(time.perf_counter() - t0)
            data = resp.json()["data"]
            version, day, cards = data["state_version"], data["new_game_date"], data["new_cards"]
        else:
            lat["errors"].append(0.0)
            if len(lat["errors"]) < 3:
                print("advance-day:", resp.status_code, resp.text[:300])
            summary = (await client.get(base + "/summary", headers=headers)).json()["data"]
            version, day = summary["state_version"], summary["current_game_date"]
            cards = summary["pending_cards"]


async def api_phase(port: int, tokens: list[str], think: float, server_pid: int, url: str) -> None:
    lat: dict[str, list[float]] = {"card-decision": [], "advance-day": [], "errors": []}
    limits = httpx.Limits(max_connections=PLAYERS, max_keepalive_connections=PLAYERS)
    # httpx's async transport writes a POST's head and body separately; without TCP_NODELAY
    # Nagle holds the body until the server's delayed ACK (~40-200 ms per request).
    transport = httpx.AsyncHTTPTransport(
        limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=30
    ) as client:
        games = [await new_game(client, t) for t in tokens]
        app0, db0, load0 = tree_cpu_seconds(server_pid), db_cpu_seconds(url), os.getloadavg()[0]
        stop = time.perf_counter() + SECONDS
        await asyncio.gather(
            *(player(client, t, g, stop, lat, think) for t, g in zip(tokens, games, strict=True))
        )
        app_cpu, db_cpu = tree_cpu_seconds(server_pid) - app0, db_cpu_seconds(url) - db0
    label = f"think time ~{think * 1000:.0f} ms" if think else "no think time (saturation)"
    print(
        f"API, {PLAYERS} players, {label}; non-200 advance-day: {len(lat.pop('errors'))},"
        f" dropped connections retried: {DROPPED}; load average {load0:.1f}"
        f" → {os.getloadavg()[0]:.1f}"
    )
    timed = len(lat["card-decision"]) + len(lat["advance-day"])
    print(cpu_line("per timed request (server processes, all requests)", app_cpu, db_cpu, timed))
    for name, values in lat.items():
        print(
            f"{name}: {len(values)} requests at {PLAYERS} players, p50 {pct(values, 0.5):.1f} ms,"
            f" p95 {pct(values, 0.95):.1f} ms, p99 {pct(values, 0.99):.1f} ms,"
            f" mean {statistics.fmean(values) * 1000:.1f} ms"
        )


def register_players(port: int, slug: str, n: int) -> list[str]:
    tokens = []
    for i in range(n):
        body = {
            "email": f"p{i}-{uuid.uuid4().hex[:6]}@example.com",
            "password": "Bench-Password-2026",
            "display_name": f"P{i}",
            "device_id": f"d{i}",
        }
        resp = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/register",
            json=body,
            headers={"X-Tenant": slug},
            timeout=30,
        )
        resp.raise_for_status()
        tokens.append(resp.json()["data"]["access_token"])
    return tokens


def seed_games(url: str, n: int) -> None:
    """N due games (31 January) cloned from engine templates with their own ids and seeds."""
    from ludus.moneylife import codec, repository
    from ludus.moneylife.engine import advance_day, create_game, load_content

    content = load_content("v1")
    with psycopg.connect(url) as conn:
        (tenant_id,) = conn.execute(
            "SELECT id FROM tenants ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
        users = [
            r[0]
            for r in conn.execute(
                "SELECT user_id FROM memberships WHERE tenant_id = %s", (tenant_id,)
            )
        ]
        templates = []
        for t in range(TEMPLATES):
            st, _ = create_game(
                content, ("student", "young_adult", "parent")[t % 3], "normal", "USD", 10_000 + t
            )
            for _ in range(30):
                st, _ = advance_day(st, [{"type": "skip_all_cards"}], content, auto=True)
            templates.append(
                (codec.to_plain(st), repository.game_columns(st, content, date(2027, 1, 1)))
            )
        cols = None
        with conn.cursor().copy(
            "COPY moneylife_games ({}) FROM STDIN".format(",".join(_columns()))
        ) as copy:
            for i in range(n):
                plain, values = templates[i % TEMPLATES]
                gid = uuid.uuid4()
                plain = {**plain, "game_id": str(gid), "seed": 1_000_000 + i}
                blob = orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
                row = {
                    **values,
                    "id": gid,
                    "tenant_id": tenant_id,
                    "user_id": users[i % len(users)],
                    "persona": plain["persona"],
                    "difficulty": plain["difficulty"],
                    "currency_code": "USD",
                    "ppp_factor": Decimal(1),
                    "content_version": "v1",
                    "start_date": date(2027, 1, 1),
                    "random_seed": 1_000_000 + i,
                    "state": blob.decode(),
                    "state_checksum": codec.checksum_of(blob),
                    "streak_current": 0,
                    "streak_longest": 0,
                    "recent_decisions": [],
                    "recent_advances": [],
                    "xp_reported": plain["total_xp"],
                    "coins_reported": plain["coins"],
                }
                cols = cols or _columns()
                copy.write_row([row.get(c) for c in cols])
        conn.commit()


def _columns() -> list[str]:
    from ludus.moneylife.models import Game

    skip = {
        "created_at",
        "updated_at",
        "match_id",
        "last_device_id",
        "last_device_at",
        "last_played_at",
        "streak_last_action_date",
        "bankruptcy_end_date",
    }
    return [c.name for c in Game.__table__.columns if c.name not in skip]


async def month_end_phase(url: str, env: dict[str, str]) -> None:
    from ludus.core.kit.db import Database
    from ludus.moneylife import monthend

    db = Database(url)
    # Workers start first and idle: their start-up is not part of the per-game cost.
    procs = [
        subprocess.Popen([LUDUS, "worker", "-q", "moneylife", "--concurrency", "1"], env=env)
        for _ in range(2)
    ]
    try:
        worker0 = -1.0
        while (cpu := sum(tree_cpu_seconds(p.pid) for p in procs)) != worker0:
            worker0 = cpu
            await asyncio.sleep(1.0)
        db0, load0 = db_cpu_seconds(url), os.getloadavg()[0]
        started = time.perf_counter()
        async with db.session(system=True) as s:
            run_id, total = await monthend.plan(s, batch_size=500)
        while True:
            async with db.session(system=True) as s:
                prog = await monthend.progress(s, run_id)
            if prog.status == "done":
                break
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
        worker_cpu = sum(tree_cpu_seconds(p.pid) for p in procs) - worker0
        db_cpu = db_cpu_seconds(url) - db0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    await db.dispose()
    print(
        f"month-end: {prog.processed:,} of {total:,} games in {elapsed:.1f} s with 2 workers"
        f" ({prog.processed / elapsed:,.0f} games/s); extrapolated 100,000 games:"
        f" {elapsed * 100_000 / max(1, total) / 60:.1f} min (target < 5 min);"
        f" load average {load0:.1f} → {os.getloadavg()[0]:.1f}"
    )
    # The bench database's backends include the progress poller's (a few ms).
    print(cpu_line("month-end per game", worker_cpu, db_cpu, prog.processed))


def main() -> None:
    engine_phase()
    data_dir = Path(tempfile.mkdtemp(prefix="ludus-bench-ml-"))
    url, server = make_database(data_dir)
    env = server_env(url, data_dir, "WARNING")
    port = free_port()
    try:
        proc = subprocess.Popen(
            [LUDUS, "serve", "--port", str(port), "--workers", str(SERVER_WORKERS)], env=env
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}", proc)
            slug, _, token = seed(f"http://127.0.0.1:{port}", env)
            tokens = [token, *register_players(port, slug, PLAYERS - 1)]
            for think in (0.0, THINK) if SECONDS else ():
                asyncio.run(api_phase(port, tokens, think, proc.pid, url))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        t0 = time.perf_counter()
        seed_games(url, GAMES)
        print(f"seeded {GAMES:,} due games in {time.perf_counter() - t0:.1f} s")
        asyncio.run(month_end_phase(url, env))
    finally:
        if server:
            drop_database(server, url)


if __name__ == "__main__":
    main()
