"""Concurrent writers: no lost updates, no deadlock reaches a caller, keys used once."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from sqlalchemy import func, select, text

from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import AlreadyReversed
from ludus.core.ledger.models import Hold, LedgerTransaction
from tests.core.ledger.helpers import committed_world

WORKERS = 8  # bench/ledger.py runs the full 32 x 500
PER_WORKER = 60

_SUMS = text(
    """
    SELECT a.id, a.balance + coalesce((SELECT sum(balance) FROM ledger_balance_shards s
                                      WHERE s.account_id = a.id), 0) AS stored,
           coalesce((SELECT sum(amount) FROM ledger_postings p WHERE p.account_id = a.id), 0)
               AS postings
    FROM ledger_accounts a WHERE a.tenant_id = :t
    """
)


class TestConcurrentTransfers:
    async def test_random_transfers_with_a_hot_account(self, db) -> None:
        world = await committed_world(db, wallets=19, funds=100_000)
        tid = world.tenant_id
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
                from_account=world.reserve,
                to_account=pool.id,
                amount=10_000_000,
            )
            supply = await ledger.total_supply(s, tenant_id=tid, asset="USD")
        assert pool.shards > 0
        accounts = [pool.id, *world.wallets]
        errors: list[BaseException] = []

        async def worker(seed: int) -> None:
            rnd = random.Random(seed)
            for i in range(PER_WORKER):
                if i % 3 == 0:  # one in three touches the hot pool
                    pair = [pool.id, rnd.choice(world.wallets)]
                    rnd.shuffle(pair)
                    entries = [(pair[0], -(m := rnd.randint(1, 50))), (pair[1], m)]
                else:
                    a, b, c = rnd.sample(accounts, 3)
                    x, y = rnd.randint(2, 50), 1
                    entries = [(a, -x), (b, x - y), (c, y)]
                try:
                    async with db.session(tenant_id=tid) as s:
                        await ledger.transfer(
                            s,
                            tenant_id=tid,
                            idempotency_key=uuid.uuid4().hex,
                            kind="mix",
                            entries=entries,
                        )
                except BaseException as exc:
                    errors.append(exc)

        await asyncio.gather(*(worker(n) for n in range(WORKERS)))
        assert errors == []
        async with db.session(tenant_id=tid) as s:
            rows = (await s.execute(_SUMS, {"t": tid})).all()
            assert all(row.stored == row.postings for row in rows)
            by_id = {row.id: row.stored for row in rows}
            assert sum(by_id[a] for a in accounts) == 10_000_000 + 19 * 100_000
            assert await ledger.total_supply(s, tenant_id=tid, asset="USD") == supply
            count = await s.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.tenant_id == tid, LedgerTransaction.kind == "mix")
            )
            assert count == WORKERS * PER_WORKER
            report = await ledger.verify(s, tenant_id=tid)
        assert report.ok, str(report)


class TestConcurrentIdempotency:
    @pytest.mark.parametrize("callers", [2, 10])
    async def test_same_key_concurrently_gives_one_transaction(self, db, callers) -> None:
        world = await committed_world(db)
        tid, (a, b, _) = world.tenant_id, world.wallets

        async def call() -> uuid.UUID:
            async with db.session(tenant_id=tid) as s:
                tx = await ledger.move(
                    s,
                    tenant_id=tid,
                    idempotency_key="same",
                    kind="pay",
                    from_account=a,
                    to_account=b,
                    amount=250,
                )
                return tx.id

        ids = await asyncio.gather(*(call() for _ in range(callers)))
        assert len(set(ids)) == 1
        async with db.session(tenant_id=tid) as s:
            count = await s.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(
                    LedgerTransaction.tenant_id == tid,
                    LedgerTransaction.idempotency_key == "same",
                )
            )
            balance = await ledger.get_balance(s, tenant_id=tid, account_id=b)
        assert count == 1
        assert balance.posted == 10_250

    async def test_same_hold_key_concurrently_reserves_once(self, db) -> None:
        world = await committed_world(db)
        tid, (a, b, _) = world.tenant_id, world.wallets

        async def call() -> uuid.UUID:
            async with db.session(tenant_id=tid) as s:
                held = await ledger.hold(
                    s,
                    tenant_id=tid,
                    idempotency_key="card",
                    kind="checkout",
                    from_account=a,
                    to_account=b,
                    amount=700,
                )
                return held.id

        ids = await asyncio.gather(*(call() for _ in range(6)))
        assert len(set(ids)) == 1
        async with db.session(tenant_id=tid) as s:
            holds = await s.scalar(
                select(func.count()).select_from(Hold).where(Hold.tenant_id == tid)
            )
            balance = await ledger.get_balance(s, tenant_id=tid, account_id=a)
        assert holds == 1 and balance.pending_out == 700

    async def test_concurrent_reversals_reverse_once(self, db) -> None:
        world = await committed_world(db)
        tid, (a, b, _) = world.tenant_id, world.wallets
        async with db.session(tenant_id=tid) as s:
            tx = await ledger.move(
                s,
                tenant_id=tid,
                idempotency_key="orig",
                kind="pay",
                from_account=a,
                to_account=b,
                amount=100,
            )

        async def call(n: int) -> str:
            try:
                async with db.session(tenant_id=tid) as s:
                    await ledger.reverse(
                        s,
                        tenant_id=tid,
                        transaction_id=tx.id,
                        idempotency_key=f"rev-{n}",
                        reason="dup",
                    )
                return "reversed"
            except AlreadyReversed:
                return "refused"

        outcomes = await asyncio.gather(*(call(n) for n in range(5)))
        assert sorted(outcomes) == ["refused"] * 4 + ["reversed"]
        async with db.session(tenant_id=tid) as s:
            assert (await ledger.get_balance(s, tenant_id=tid, account_id=a)).posted == 10_000
