"""M-Pesa month-end spike: callbacks per second end to end, and time until every
leaderboard is current.

    .venv/bin/python -m bench.savings --size 3000 --orgs 10

HTTP in (a real uvicorn server on 127.0.0.1) → raw callback stored → drain job body
(ledger transaction, challenge progress, live leaderboard, receipt notification). Drain
workers run concurrently with the burst, one per org (the job's per-org lock). Uses
DATABASE_URL, else the embedded PostgreSQL. The default size is sized to finish in
under 4 minutes on a 2-core machine; pass --size 20000 for the full spike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import time
import uuid
from datetime import date

os.environ.setdefault("LUDUS_LOG_LEVEL", "WARNING")
os.environ.setdefault("LUDUS_RUN_WORKER_IN_PROCESS", "false")
# Safaricom posts every callback from a handful of IPs: the per-IP API limit must not apply.
os.environ.setdefault("LUDUS_API_RATE_LIMIT", "10000000/minute")

import httpx
import orjson
import uvicorn
from sqlalchemy import func, select

from ludus.core.kit.db import Database, set_database
from ludus.core.kit.migrate import upgrade
from ludus.core.tenancy.models import Tenant, TenantKind
from ludus.engagement.challenges.models import Participant
from ludus.savings import challenges, service
from ludus.savings.challenge_schemas import ChallengeIn, ChallengePatch, JoinIn
from ludus.savings.models import CallbackStatus, Deposit, MpesaCallback
from ludus.savings.mpesa.sandbox import c2b_confirmation_body
from ludus.savings.schemas import MemberIn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def setup(db: Database, orgs: int, members: int) -> list[tuple[str, str, list[str]]]:
    out = []
    for o in range(orgs):
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
        out.append((tenant.slug, token, refs))
        tasks_tenants.append(tenant.id)
    return out


tasks_tenants: list[uuid.UUID] = []


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--orgs", type=int, default=10)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=48)
    args = parser.parse_args()

    from ludus.core.kit.db import database_url

    url = database_url()
    upgrade(url)
    db = Database(url)
    set_database(db)
    orgs = await setup(db, args.orgs, args.members)
    print(f"size used: {args.size} callbacks over {args.orgs} orgs x {args.members} members")

    from ludus.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(database=db),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    serve = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)

    bodies = []
    for i in range(args.size):
        slug, token, refs = orgs[i % len(orgs)]
        body = c2b_confirmation_body(
            trans_id=f"B{uuid.uuid4().hex[:11].upper()}",
            amount=10_000 + i,
            bill_ref=refs[(i // len(orgs)) % len(refs)],
            msisdn="x",
        )
        bodies.append(
            (
                f"http://127.0.0.1:{port}/api/v1/savings/mpesa/{slug}/{token}/confirmation",
                orjson.dumps(body),
            )
        )
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    failures = 0

    async def sender(http: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            url_, body = queue.get_nowait()
            resp = await http.post(url_, content=body, headers={"content-type": "application/json"})
            failures += resp.status_code != 200

    async def pending_count() -> int:
        async with db.session(system=True) as s:
            return int(
                await s.scalar(
                    select(func.count())
                    .select_from(MpesaCallback)
                    .where(
                        MpesaCallback.tenant_id.in_(tasks_tenants),
                        MpesaCallback.status == CallbackStatus.received,
                    )
                )
                or 0
            )

    started = time.perf_counter()
    from ludus.core.jobs.worker import run_worker

    worker = asyncio.create_task(
        run_worker(db, concurrency=len(tasks_tenants), install_signal_handlers=False)
    )
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        await asyncio.gather(*(sender(http) for _ in range(args.concurrency)))
    ingest_done = time.perf_counter() - started
    while await pending_count():
        await asyncio.sleep(0.05)
    current = time.perf_counter() - started
    server.should_exit = True
    await serve
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await worker

    async with db.session(system=True) as s:
        deposits = await s.scalar(
            select(func.count()).select_from(Deposit).where(Deposit.tenant_id.in_(tasks_tenants))
        )
        pending = await s.scalar(
            select(func.count())
            .select_from(MpesaCallback)
            .where(
                MpesaCallback.tenant_id.in_(tasks_tenants),
                MpesaCallback.status != CallbackStatus.processed,
            )
        )
        scored = await s.scalar(
            select(func.coalesce(func.sum(Participant.total), 0)).where(
                Participant.tenant_id.in_(tasks_tenants)
            )
        )
    expected_total = sum(10_000 + i for i in range(args.size))
    print(
        f"HTTP ingest: {args.size} callbacks in {ingest_done:.1f}s = "
        f"{args.size / ingest_done:.0f}/s (non-200: {failures})"
    )
    print(
        f"every leaderboard current after {current:.1f}s; "
        f"end to end {args.size / current:.0f} callbacks/s"
    )
    print(
        f"deposits recorded {deposits} (expected {args.size}); unprocessed {pending}; "
        f"leaderboard totals match: {scored == expected_total}"
    )
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
