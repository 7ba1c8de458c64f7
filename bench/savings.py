"""M-Pesa month-end spike: callbacks in over HTTP, deposits processed end to end, and the
time until every leaderboard is current.

    DATABASE_URL=postgresql://... .venv/bin/python -m bench.savings            # default size
    DATABASE_URL=postgresql://... .venv/bin/python -m bench.savings --size 20000

Production shape: `ludus serve` and `ludus worker` run as their own processes; this script
sets up the orgs, members and one active challenge per org, then posts a burst of C2B
confirmations (plus a share of redeliveries of the same TransID) from `--concurrency`
connections. The worker drains callbacks (ledger transaction per deposit, challenge
progress, leaderboard ranks, badges) and queues receipts from their own jobs, which also send them.

Reported: HTTP ingest rate and callback latency (p50/p95), deposits/s end to end, the time
until no callback is pending (every leaderboard current), the time until every receipt is
queued and every message sent, lost/doubled deposits (must be 0/0, checked against the
ledger too), the CPU each process and its PostgreSQL backends spent per callback
(meaningful on a shared machine, where wall-clock rates are not), and the load average.
Uses DATABASE_URL, else the embedded PostgreSQL. The default size finishes in well under
4 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date

os.environ.setdefault("LUDUS_LOG_LEVEL", "WARNING")
os.environ.setdefault("LUDUS_RUN_WORKER_IN_PROCESS", "false")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # make bench

import httpx
import orjson
from sqlalchemy import func, select, text

from bench.api_auth import Conn
from ludus.core.kit.db import Database, database_url, set_database
from ludus.core.kit.migrate import upgrade
from ludus.core.ledger.verify import verify
from ludus.core.notifications.models import MessageStatus, NotificationMessage
from ludus.core.tenancy.models import Tenant, TenantKind
from ludus.engagement.challenges.models import Participant
from ludus.savings import challenges, service
from ludus.savings.challenge_schemas import ChallengeIn, ChallengePatch, JoinIn
from ludus.savings.models import CallbackStatus, Deposit, MpesaCallback
from ludus.savings.mpesa.sandbox import c2b_confirmation_body
from ludus.savings.schemas import MemberIn


def raw_post(path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def setup(db: Database, orgs: int, members: int) -> list[tuple[Tenant, str, list[str]]]:
    return list(await asyncio.gather(*(setup_org(db, o, members) for o in range(orgs))))


async def setup_org(db: Database, o: int, members: int) -> tuple[Tenant, str, list[str]]:
    tenant = Tenant(
        id=uuid.uuid4(),
        slug=f"bench-{uuid.uuid4().hex[:8]}",
        name=f"Chama {o}",
        kind=TenantKind.chama,
        theme={},
        features={},
        config={},
        products=["savings"],
        currency="KES",
        timezone="Africa/Nairobi",
    )
    async with db.session(system=True) as s:
        s.add(tenant)
    async with db.session(tenant_id=tenant.id) as s:
        org = await service.ensure_org(s, tenant)
        org.callback_allowed_ips = ["127.0.0.1/32"]
        token = (await service.rotate_callback_token(s, tenant.id, actor=None)).token
        ch = await challenges.create(
            s,
            tenant,
            ChallengeIn(
                name="Month end",
                type="fixed_amount",
                target={"amount": 10_000},
                start_date=date.today().replace(day=1),
                duration_days=62,
            ),
            actor=None,
        )
        await challenges.update(s, tenant, ch.id, ChallengePatch(status="active"), actor=None)
        refs = []
        for m in range(members):
            phone = f"+2547{o:02d}{m:06d}"
            member = await service.invite_member(
                s, tenant.id, MemberIn(phone=phone, name=f"M{m}"), actor=None
            )
            await challenges.join(s, tenant, ch.id, member, JoinIn(), by_admin=True)
            refs.append(member.account_ref)
    return tenant, token, refs


def start(role: str, args: list[str], pool: int) -> subprocess.Popen[bytes]:
    """A `ludus` subprocess with a modest connection pool (the database may be shared); its
    connections are named after `role`, so their backends' CPU can be told apart."""
    cli = "import sys; from ludus.cli.main import app; sys.argv[0] = 'ludus'; app()"
    env = {**os.environ, "PGAPPNAME": f"bench-savings-{role}",
           "LUDUS_DB_POOL_SIZE": str(pool), "LUDUS_DB_MAX_OVERFLOW": "0"}  # fmt: skip
    return subprocess.Popen([sys.executable, "-c", cli, *args], start_new_session=True, env=env)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


ROLES = ("serve", "drain", "messages")


async def backends_cpu(db: Database) -> dict[str, float]:
    """CPU used so far by the PostgreSQL backends serving each process (by role). A backend
    that exited meanwhile takes its CPU with it: pools are kept small and steady."""
    async with db.session(system=True) as s:
        rows = await s.execute(
            text(
                "SELECT pid, application_name FROM pg_stat_activity"
                " WHERE application_name LIKE 'bench-savings-%'"
            )
        )
        out = dict.fromkeys(ROLES, 0.0)
        for pid, name in rows.all():
            role = str(name).removeprefix("bench-savings-")
            out[role] = out.get(role, 0.0) + cpu_seconds(int(str(pid)))
        return out


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


OTHER_QUEUES = ("default", "notifications", "periodic", "events", "webhooks")


class Counts:
    def __init__(self, db: Database, tenants: list[uuid.UUID]) -> None:
        self.db, self.tenants = db, tenants

    async def scalar(self, query: object) -> int:
        async with self.db.session(system=True) as s:
            return int(await s.scalar(query) or 0)  # type: ignore[call-overload]

    async def pending(self) -> int:
        return await self.scalar(
            select(func.count())
            .select_from(MpesaCallback)
            .where(
                MpesaCallback.tenant_id.in_(self.tenants),
                MpesaCallback.status == CallbackStatus.received,
            )
        )

    async def unsent(self) -> int:
        """Messages still queued (not yet handed to the provider)."""
        return await self.scalar(
            select(func.count())
            .select_from(NotificationMessage)
            .where(
                NotificationMessage.tenant_id.in_(self.tenants),
                NotificationMessage.status == MessageStatus.queued,
            )
        )

    async def messages(self) -> int:
        return await self.scalar(
            select(func.count())
            .select_from(NotificationMessage)
            .where(NotificationMessage.tenant_id.in_(self.tenants))
        )

    async def receipts(self) -> int:
        return await self.scalar(
            select(func.count())
            .select_from(NotificationMessage)
            .where(
                NotificationMessage.tenant_id.in_(self.tenants),
                NotificationMessage.kind == "savings.deposit_receipt",
            )
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=4000, help="distinct callbacks (payments)")
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP connections")
    parser.add_argument("--redeliveries", type=float, default=0.05, help="share posted twice")
    parser.add_argument("--worker-concurrency", type=int, default=8, help="messages worker")
    parser.add_argument(
        "--receipts-wait", type=float, default=30, help="seconds to wait for receipts after"
    )
    args = parser.parse_args()

    url = database_url()
    upgrade(url)
    db = Database(url)
    set_database(db)
    orgs = await setup(db, args.orgs, args.members)
    tenants = [t.id for t, _, _ in orgs]
    counts = Counts(db, tenants)
    os.environ["DATABASE_URL"] = url
    port = free_port()
    server = start("serve", ["serve", "--no-migrate", "--port", str(port)], pool=12)
    bodies: list[tuple[str, bytes]] = []
    for i in range(args.size):
        tenant, token, refs = orgs[i % len(orgs)]
        body = c2b_confirmation_body(
            trans_id=f"B{uuid.uuid4().hex[:11].upper()}",
            amount=10_000 + i,
            bill_ref=refs[(i // len(orgs)) % len(refs)],
            msisdn="x",
        )
        path = f"/api/v1/savings/mpesa/{tenant.slug}/{token}/confirmation"
        bodies.append((path, orjson.dumps(body)))
    # M-Pesa redelivers some callbacks: a copy follows its original 50 posts later, so some
    # arrive while the original is still being stored or drained.
    every = int(1 / args.redeliveries) if args.redeliveries > 0 else 0
    posts: list[tuple[str, bytes]] = []
    for i, item in enumerate(bodies):
        posts.append(item)
        if every and i >= 50 and i % every == 0:
            posts.append(bodies[i - 50])
    base = f"http://127.0.0.1:{port}"
    worker = others = None
    try:
        async with httpx.AsyncClient(
            base_url=base, limits=httpx.Limits(max_connections=args.concurrency), timeout=120
        ) as http:
            for _ in range(600):
                try:
                    if (await http.get("/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            # Drains get their own worker (queue "savings"); messages, notification
            # deliveries and periodic jobs run in a second one.
            worker = start("drain", ["worker", "-q", "savings", "--concurrency", str(args.orgs)],
                           pool=args.orgs)  # fmt: skip
            others = start("messages", ["worker", "--concurrency", str(args.worker_concurrency),
                            *(x for q in OTHER_QUEUES for x in ("-q", q))],
                           pool=args.worker_concurrency)  # fmt: skip
            latencies: list[float] = []
            statuses: dict[int, int] = {}
            queue = iter(posts)

            async def sender() -> None:
                # The minimal keep-alive client of bench/api_auth.py: httpx cost about as
                # much CPU per post as the server, on the same two cores.
                conn = await Conn.open(port)
                try:
                    for path, body in queue:
                        t0 = time.perf_counter()
                        raw = raw_post(path, body)
                        for attempt in range(5):  # like M-Pesa, post again unless it was taken
                            try:
                                status = await conn.request(raw)
                            except (OSError, asyncio.IncompleteReadError):
                                statuses[-1] = statuses.get(-1, 0) + 1
                                if attempt == 4:
                                    raise
                                conn.close()
                                conn = await Conn.open(port)
                                continue
                            if status < 500:
                                break
                            statuses[status] = statuses.get(status, 0) + 1
                        latencies.append(time.perf_counter() - t0)
                        statuses[status] = statuses.get(status, 0) + 1
                finally:
                    conn.close()

            print(
                f"size: {args.size} callbacks (+{len(posts) - len(bodies)} redelivered) over "
                f"{args.orgs} orgs x {args.members} members; {args.concurrency} connections; "
                f"worker concurrency {args.worker_concurrency}; load average {load()}",
                flush=True,
            )
            cpu0 = (cpu_seconds(server.pid), cpu_seconds(worker.pid), cpu_seconds(others.pid),
                    await backends_cpu(db), load())  # fmt: skip
            started, client0 = time.perf_counter(), time.process_time()
            await asyncio.gather(*(sender() for _ in range(args.concurrency)))
            ingest = time.perf_counter() - started
            client_cpu = time.process_time() - client0
            server_cpu = cpu_seconds(server.pid) - cpu0[0]
            while await counts.pending():
                await asyncio.sleep(0.1)
            current = time.perf_counter() - started
            worker_cpu = cpu_seconds(worker.pid) - cpu0[1]
            pg_at_current = await backends_cpu(db)
            want_receipts = 2 * args.size  # SMS + WhatsApp
            deadline = time.perf_counter() + args.receipts_wait
            while (queued := await counts.receipts()) < want_receipts or await counts.unsent():
                if time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.25)
            receipts_at = time.perf_counter() - started
            others_cpu = cpu_seconds(others.pid) - cpu0[2]
            unsent, total_messages = await counts.unsent(), await counts.messages()
            pg_at_end = await backends_cpu(db)
            load_after = load()
    finally:
        for proc in (worker, others, server):
            if proc is not None:
                stop(proc)

    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(len(latencies) * 0.95)] * 1000
    async with db.session(system=True) as s:
        receipts = [orjson.loads(b)["TransID"] for _, b in bodies]
        found: dict[str, int] = dict(
            (
                await s.execute(
                    select(Deposit.receipt, func.count())
                    .where(Deposit.tenant_id.in_(tenants))
                    .group_by(Deposit.receipt)
                )
            ).all()
        )
        postings: dict[str, int] = dict(
            (
                await s.execute(
                    text(
                        "SELECT substr(idempotency_key, 17), count(*) FROM ledger_transactions"
                        " WHERE tenant_id = ANY(:t) AND idempotency_key LIKE 'savings:deposit:%'"
                        " GROUP BY 1"
                    ),
                    {"t": tenants},
                )
            ).all()
        )
        scored = await s.scalar(
            select(func.coalesce(func.sum(Participant.total), 0)).where(
                Participant.tenant_id.in_(tenants)
            )
        )
        failed = await s.scalar(
            select(func.count())
            .select_from(MpesaCallback)
            .where(
                MpesaCallback.tenant_id.in_(tenants),
                MpesaCallback.status == CallbackStatus.failed,
            )
        )
        clean = all([(await verify(s, tenant_id=t)).ok for t in tenants])
    lost = sum(1 for r in receipts if r not in found or r not in postings)
    doubled = sum(1 for r in receipts if found.get(r, 0) > 1 or postings.get(r, 0) > 1)
    expected_total = sum(10_000 + i for i in range(args.size))
    print(
        f"HTTP ingest: {len(posts)} callbacks in {ingest:.1f}s = {len(posts) / ingest:.0f}/s; "
        f"callback latency p50 {p50:.1f} ms, p95 {p95:.1f} ms; statuses {statuses} "
        f"(-1 and 5xx: posted again); the posting client: {client_cpu / len(posts) * 1000:.2f} ms"
        " CPU per callback"
    )
    print(
        f"every leaderboard current after {current:.1f}s: "
        f"{args.size / current:.0f} deposits/s end to end"
    )
    print(
        f"receipts queued (SMS + WhatsApp): {queued} of {want_receipts}; messages sent "
        f"(receipts and rank messages): {total_messages - unsent} of {total_messages}, "
        f"after {receipts_at:.1f}s"
    )
    pg = {r: (pg_at_current[r] - cpu0[3][r]) / args.size * 1000 for r in ("serve", "drain")}
    ms = {k: v / args.size * 1000 for k, v in
          {"server": server_cpu, "drain": worker_cpu}.items()}  # fmt: skip
    total_ms = sum(ms.values()) + sum(pg.values())
    print(
        f"CPU per callback until leaderboards current: server {ms['server']:.2f} ms "
        f"(+ its PostgreSQL backends {pg['serve']:.2f} ms), drain worker {ms['drain']:.2f} ms "
        f"(+ {pg['drain']:.2f} ms); {total_ms:.2f} ms in all = {2000 / total_ms:.0f} "
        "callbacks/s if two cores were free"
    )
    messages_pg = pg_at_end["messages"] - cpu0[3]["messages"]
    print(
        f"messages worker (receipts, rank messages, deliveries, periodic): {others_cpu:.1f}s CPU"
        f" + {messages_pg:.1f}s in its PostgreSQL backends = "
        f"{(others_cpu + messages_pg) / args.size * 1000:.2f} ms per callback"
    )
    print(f"load average before {cpu0[4]}, after {load_after}")
    print(
        f"lost {lost}, doubled {doubled}; failed callbacks {failed}; leaderboard totals match: "
        f"{scored == expected_total}; ledger verify clean: {clean}"
    )
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
