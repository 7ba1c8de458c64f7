"""Token-verified reads and sign-ins per second against a real server process.

    .venv/bin/python bench/api_auth.py                       # embedded PostgreSQL in a temp dir
    DATABASE_URL=postgresql://... .venv/bin/python bench/api_auth.py
    .venv/bin/python bench/api_auth.py --seconds 3 --workers 1 --log-level INFO

Starts `ludus serve` (uvicorn, --workers N, default 2) on a free port with a fresh database
(a new database on DATABASE_URL's server, or an embedded server in a temp dir), creates a
tenant with the CLI and a user through the API, then drives authenticated
`GET /api/v1/me` at 1, 16 and 64 concurrent keep-alive connections and reports req/s and
p50/p95/p99, then `POST /api/v1/auth/login` (argon2id verify + session + tokens).

The load generator is a minimal HTTP/1.1 client on raw asyncio streams so that the client
costs as little CPU as possible on the same machine. The API and login rate limits are raised
for the run (they would otherwise answer 429 to one user hammering the server).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

warnings.simplefilter("ignore")
ROOT = Path(__file__).resolve().parents[1]
LUDUS = str(ROOT / ".venv" / "bin" / "ludus")
PASSWORD = "Bench-Password-2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_database(data_dir: Path) -> tuple[str, str | None]:
    """A fresh database URL, and the server URL to drop it from afterwards (if ours)."""
    server = os.environ.get("DATABASE_URL")
    if not server:
        from ludus.core.kit.embedded import embedded_uri

        server = embedded_uri(data_dir / "pgdata")
    from ludus.core.kit.embedded import to_libpq_url

    server = to_libpq_url(server)
    name = f"ludus_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server)._replace(path="/" + name)), server


def drop_database(server: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(url: str, data_dir: Path, log_level: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": url,
            "LUDUS_DATA_DIR": str(data_dir),
            "LUDUS_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnop",
            "LUDUS_LOG_LEVEL": log_level,
            "LUDUS_API_RATE_LIMIT": "100000000/minute",
            "LUDUS_LOGIN_RATE_LIMIT": "100000000/minute",
            "LUDUS_RUN_WORKER_IN_PROCESS": "false",
        }
    )
    return env


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("server did not become ready")


def seed(base: str, env: dict[str, str]) -> tuple[str, str, str]:
    slug = f"bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(
        [LUDUS, "tenant", "create", slug, "--name", "Bench"],
        env=env,
        check=True,
        capture_output=True,
    )
    email = f"bench-{uuid.uuid4().hex[:6]}@example.com"
    body = {"email": email, "password": PASSWORD, "display_name": "Bench", "device_id": "bench"}
    resp = httpx.post(
        base + "/api/v1/auth/register", json=body, headers={"X-Tenant": slug}, timeout=10
    )
    resp.raise_for_status()
    return slug, email, resp.json()["data"]["access_token"]


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU of the server process and its workers (Linux /proc; 0 elsewhere)."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
        todo += _children(current)
    return total


# A tiny keep-alive HTTP/1.1 client: one request at a time per connection.


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> int:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def get_request(path: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()


def post_request(path: str, body: dict[str, object], headers: dict[str, str]) -> bytes:
    data = json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n{extra}\r\n"
    )
    return head.encode() + data


async def drive(
    port: int, raw: bytes, concurrency: int, seconds: float, server_pid: int
) -> dict[str, float]:
    conns = [await Conn.open(port) for _ in range(concurrency)]
    latencies: list[float] = []
    errors = 0
    warmup_until = time.perf_counter() + min(1.0, seconds / 3)
    stop = warmup_until + seconds

    async def loop(conn: Conn) -> None:
        nonlocal errors
        while True:
            t0 = time.perf_counter()
            if t0 >= stop:
                return
            status = await conn.request(raw)
            t1 = time.perf_counter()
            if t0 >= warmup_until:
                latencies.append(t1 - t0)
                if status != 200:
                    errors += 1

    cpu_before = tree_cpu_seconds(server_pid)
    await asyncio.gather(*(loop(c) for c in conns))
    cpu = tree_cpu_seconds(server_pid) - cpu_before
    for c in conns:
        c.close()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "mean": statistics.fmean(latencies) * 1000,
        "errors": errors,
        "cpu_ms": cpu / max(1, len(latencies)) * 1000,
    }


def report(label: str, r: dict[str, float]) -> None:
    print(
        f"{label:<34} {r['rps']:>9.0f}/s  p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms"
        f"  p99 {r['p99']:6.1f} ms  server CPU {r['cpu_ms']:.2f} ms/req"
        f"  (n={int(r['requests'])}, non-200={int(r['errors'])})"
    )


async def run(
    port: int,
    slug: str,
    email: str,
    token: str,
    seconds: float,
    server_pid: int,
    clients: list[int],
    login_too: bool,
) -> None:
    me = get_request("/api/v1/me", token)
    for concurrency in clients:
        report(
            f"GET /api/v1/me  c={concurrency}",
            await drive(port, me, concurrency, seconds, server_pid),
        )
    login = post_request(
        "/api/v1/auth/login",
        {"email": email, "password": PASSWORD, "device_id": "bench-device"},
        {"X-Tenant": slug},
    )
    if not login_too:
        return
    for concurrency in (1, 8):
        report(
            f"POST /api/v1/auth/login  c={concurrency}",
            await drive(port, login, concurrency, seconds, server_pid),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per level")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--log-level", default="INFO", help="server log level (INFO logs each request)"
    )
    parser.add_argument("--clients", default="1,16,64", help="concurrency levels for GET /me")
    parser.add_argument("--no-login", action="store_true", help="skip the sign-in levels")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]

    data_dir = Path(tempfile.mkdtemp(prefix="ludus-bench-"))
    url, server = make_database(data_dir)
    env = server_env(url, data_dir, args.log_level)
    port = free_port()
    proc = subprocess.Popen(
        [LUDUS, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        slug, email, token = seed(base, env)
        print(
            f"ludus serve --workers {args.workers} on :{port}, log level {args.log_level}, "
            f"{os.cpu_count()} CPUs, {args.seconds:g} s per level, "
            f"load average {os.getloadavg()[0]:.1f} before start"
        )
        asyncio.run(
            run(port, slug, email, token, args.seconds, proc.pid, clients, not args.no_login)
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        drop_database(server, url)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
