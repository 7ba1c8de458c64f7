"""Redemption bench: redemptions/s under contention on ONE catalog item (every buyer takes
the item row lock to decrement stock, then holds coins on the ledger).

    .venv/bin/python bench/redemption.py                     # embedded PostgreSQL
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/redemption.py

Checks at the end: successes == stock, item stock 0, every winner holds exactly the cost.
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

warnings.simplefilter("ignore")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import select, text  # noqa: E402

from bench._engagement_db import (  # noqa: E402
    create_db,
    database,
    drop_db,
    make_tenant,
    p95,
    server_url,
)
from ludus.engagement import coins, errors  # noqa: E402
from ludus.engagement.catalog.models import CatalogItem  # noqa: E402
from ludus.engagement.catalog.service import create_item, redeem  # noqa: E402

LIMITS = {
    "per_day": 10**6,
    "coins_per_day": 10**9,
    "per_item_per_day": 10**6,
    "per_month": 10**6,
    "coins_per_month": 10**9,
}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--stock", type=int, default=1000)
    parser.add_argument("--attempts", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    server = server_url()
    name = f"ludus_bench_redeem_{uuid.uuid4().hex[:8]}"
    url = create_db(server, name)
    db = database(url, args.clients + 4)
    try:
        tid = await make_tenant(db, {"engagement": {"default": {"redemption": LIMITS}}})
        users = [uuid.uuid4() for _ in range(args.users)]
        async with db.session(tenant_id=tid) as s:
            item = await create_item(
                s,
                tenant_id=tid,
                name="Voucher",
                category="gift_card",
                coin_cost=10,
                stock=args.stock,
                status="active",
                fulfillment_type="instant_digital",
            )
            for u in users:
                await coins.earn(
                    s,
                    tenant_id=tid,
                    user_id=u,
                    amount=100_000,
                    reason="bench",
                    reference=None,
                    idempotency_key=f"fund:{u}",
                    enforce_limits=False,
                )
        rng = random.Random(1)
        plan = [rng.choice(users) for _ in range(args.attempts)]
        latencies: list[float] = []
        outcome = {"ok": 0, "out_of_stock": 0}

        async def worker() -> None:
            while plan:
                user = plan.pop()
                t = time.perf_counter()
                try:
                    async with db.session(tenant_id=tid) as s:
                        await redeem(
                            s,
                            tenant_id=tid,
                            user_id=user,
                            item_id=item.id,
                            idempotency_key=uuid.uuid4().hex,
                            product="moneylife",
                        )
                    outcome["ok"] += 1
                except errors.OutOfStock:
                    outcome["out_of_stock"] += 1
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.clients)))
        elapsed = time.perf_counter() - start
        async with db.session(tenant_id=tid) as s:
            stock = await s.scalar(select(CatalogItem.stock).where(CatalogItem.id == item.id))
            held = await s.scalar(
                text(
                    "SELECT coalesce(sum(pending_out), 0) FROM ledger_accounts WHERE tenant_id = :t"
                ),
                {"t": tid},
            )
        print(
            f"one item, stock {args.stock}, {args.attempts} attempts by {args.users} users, "
            f"{args.clients} concurrent clients"
        )
        print(f"  redemptions/s (successful): {outcome['ok'] / elapsed:8.1f}")
        print(f"  attempts/s (incl. sold out): {args.attempts / elapsed:7.1f}")
        print(f"  latency p95: {p95(latencies):.1f} ms")
        ok = (
            outcome["ok"] == min(args.stock, args.attempts)
            and stock == args.stock - outcome["ok"]
            and held == 10 * outcome["ok"]
        )
        print(
            f"  succeeded {outcome['ok']}, sold out {outcome['out_of_stock']}, stock left "
            f"{stock}, coins held {held}: {'consistent' if ok else 'INCONSISTENT'}"
        )
    finally:
        await db.dispose()
        drop_db(server, name)


if __name__ == "__main__":
    asyncio.run(main())
