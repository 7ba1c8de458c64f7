from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from ludus.core.kit import clock
from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import (
    AlreadyReversed,
    AssetMismatch,
    HoldExpired,
    HoldNotFound,
    HoldNotPending,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
)
from tests.core.ledger.helpers import committed_world, key, snapshot


async def balance(session, world, account):
    return await ledger.get_balance(session, tenant_id=world.tenant_id, account_id=account)


async def make_hold(session, world, amount=4_000, **extra):
    a, b, _ = world.wallets
    return await ledger.hold(
        session,
        tenant_id=world.tenant_id,
        idempotency_key=key(),
        kind="checkout",
        from_account=a,
        to_account=b,
        amount=amount,
        **extra,
    )


class TestHolds:
    async def test_hold_reserves_funds(self, world, session) -> None:
        held = await make_hold(session, world)
        got = await balance(session, world, world.wallets[0])
        assert (got.posted, got.pending_out, got.available) == (10_000, 4_000, 6_000)
        assert held.status == "pending"
        # A transfer may only spend what is available.
        with pytest.raises(InsufficientFunds):
            await ledger.move(
                session,
                tenant_id=world.tenant_id,
                idempotency_key=key(),
                kind="t",
                from_account=world.wallets[0],
                to_account=world.wallets[2],
                amount=6_001,
            )
        with pytest.raises(InsufficientFunds):
            await make_hold(session, world, amount=6_001)

    async def test_partial_post_moves_part_and_releases_the_rest(self, world, session) -> None:
        held = await make_hold(session, world)
        tx = await ledger.post_hold(
            session, tenant_id=world.tenant_id, hold_id=held.id, amount=2_500
        )
        assert tx.hold_id == held.id
        a = await balance(session, world, world.wallets[0])
        b = await balance(session, world, world.wallets[1])
        assert (a.posted, a.pending_out, a.available) == (7_500, 0, 7_500)
        assert b.posted == 12_500
        again = await ledger.post_hold(session, tenant_id=world.tenant_id, hold_id=held.id)
        assert again.id == tx.id and again.replayed
        with pytest.raises(HoldNotPending):
            await ledger.post_hold(
                session, tenant_id=world.tenant_id, hold_id=held.id, idempotency_key="other"
            )
        with pytest.raises(HoldNotPending):
            await ledger.void_hold(session, tenant_id=world.tenant_id, hold_id=held.id)
        assert (await ledger.verify(session, tenant_id=world.tenant_id)).ok

    async def test_post_more_than_held_is_refused(self, world, session) -> None:
        held = await make_hold(session, world)
        before = await snapshot(session, world.tenant_id)
        with pytest.raises(InvalidAmount):
            await ledger.post_hold(
                session, tenant_id=world.tenant_id, hold_id=held.id, amount=4_001
            )
        assert await snapshot(session, world.tenant_id) == before

    async def test_void_releases(self, world, session) -> None:
        held = await make_hold(session, world)
        voided = await ledger.void_hold(
            session, tenant_id=world.tenant_id, hold_id=held.id, reason="cancelled"
        )
        assert voided.status == "voided" and voided.reason == "cancelled"
        assert (await balance(session, world, world.wallets[0])).available == 10_000
        with pytest.raises(HoldNotFound):
            await ledger.void_hold(session, tenant_id=world.tenant_id, hold_id=uuid.uuid4())

    async def test_expiry(self, world, session) -> None:
        held = await make_hold(session, world, expires_at=clock.utcnow() + timedelta(minutes=5))
        later = await make_hold(
            session, world, amount=100, expires_at=clock.utcnow() + timedelta(hours=2)
        )
        clock.advance(600)
        before = await snapshot(session, world.tenant_id)
        with pytest.raises(HoldExpired):
            await ledger.post_hold(session, tenant_id=world.tenant_id, hold_id=held.id)
        assert await snapshot(session, world.tenant_id) == before
        assert await ledger.expire_due_holds(session, tenant_id=world.tenant_id) == 1
        with pytest.raises(HoldNotPending):
            await ledger.post_hold(session, tenant_id=world.tenant_id, hold_id=held.id)
        a = await balance(session, world, world.wallets[0])
        assert (a.pending_out, a.available) == (100, 9_900)
        await ledger.post_hold(session, tenant_id=world.tenant_id, hold_id=later.id)
        assert (await ledger.verify(session, tenant_id=world.tenant_id)).ok

    async def test_hold_key_replays_and_conflicts(self, world, session) -> None:
        a, b, _ = world.wallets
        args = dict(
            tenant_id=world.tenant_id,
            idempotency_key="card-1",
            kind="checkout",
            from_account=a,
            to_account=b,
        )
        first = await ledger.hold(session, amount=50, **args)
        assert (await ledger.hold(session, amount=50, **args)).id == first.id
        with pytest.raises(IdempotencyConflict):
            await ledger.hold(session, amount=51, **args)
        with pytest.raises(AssetMismatch):
            await ledger.hold(
                session,
                tenant_id=world.tenant_id,
                idempotency_key=key(),
                kind="x",
                from_account=a,
                to_account=world.coin_wallet,
                amount=1,
            )
        assert (await balance(session, world, a)).pending_out == 50


class TestReversals:
    async def test_reverse_restores_and_is_once_only(self, world, session) -> None:
        a, b, _ = world.wallets
        tx = await ledger.move(
            session,
            tenant_id=world.tenant_id,
            idempotency_key=key(),
            kind="p2p",
            from_account=a,
            to_account=b,
            amount=1_234,
        )
        rev = await ledger.reverse(
            session,
            tenant_id=world.tenant_id,
            transaction_id=tx.id,
            idempotency_key="rev-1",
            reason="disputed",
        )
        assert rev.reversal_of == tx.id and rev.meta["reason"] == "disputed"
        assert (await balance(session, world, a)).posted == 10_000
        assert (await balance(session, world, b)).posted == 10_000
        replay = await ledger.reverse(
            session,
            tenant_id=world.tenant_id,
            transaction_id=tx.id,
            idempotency_key="rev-1",
            reason="disputed",
        )
        assert replay.id == rev.id
        with pytest.raises(AlreadyReversed):
            await ledger.reverse(
                session,
                tenant_id=world.tenant_id,
                transaction_id=tx.id,
                idempotency_key="rev-2",
                reason="again",
            )
        assert (await ledger.verify(session, tenant_id=world.tenant_id)).ok

    async def test_reversal_needs_the_funds_back(self, world, session) -> None:
        a, b, c = world.wallets
        tx = await ledger.move(
            session,
            tenant_id=world.tenant_id,
            idempotency_key=key(),
            kind="p2p",
            from_account=a,
            to_account=b,
            amount=10_000,
        )
        await ledger.move(
            session,
            tenant_id=world.tenant_id,
            idempotency_key=key(),
            kind="p2p",
            from_account=b,
            to_account=c,
            amount=20_000,
        )
        before = await snapshot(session, world.tenant_id)
        with pytest.raises(InsufficientFunds):
            await ledger.reverse(
                session,
                tenant_id=world.tenant_id,
                transaction_id=tx.id,
                idempotency_key=key(),
                reason="too late",
            )
        assert await snapshot(session, world.tenant_id) == before


class TestBalanceAsOf:
    async def test_balance_at_a_past_time(self, db) -> None:
        world = await committed_world(db)
        a, b, _ = world.wallets
        async with db.session(tenant_id=world.tenant_id) as s:
            first = await s.scalar(text("SELECT clock_timestamp()"))
        async with db.session(tenant_id=world.tenant_id) as s:
            await ledger.move(
                s,
                tenant_id=world.tenant_id,
                idempotency_key=key(),
                kind="t",
                from_account=a,
                to_account=b,
                amount=600,
            )
            await ledger.hold(
                s,
                tenant_id=world.tenant_id,
                idempotency_key=key(),
                kind="h",
                from_account=a,
                to_account=b,
                amount=400,
            )
        async with db.session(tenant_id=world.tenant_id) as s:
            middle = await s.scalar(text("SELECT clock_timestamp()"))
        async with db.session(tenant_id=world.tenant_id) as s:
            await ledger.move(
                s,
                tenant_id=world.tenant_id,
                idempotency_key=key(),
                kind="t",
                from_account=a,
                to_account=b,
                amount=1_000,
            )
            then = await ledger.get_balance(s, tenant_id=world.tenant_id, account_id=a, as_of=first)
            mid = await ledger.get_balance(s, tenant_id=world.tenant_id, account_id=a, as_of=middle)
            now = await ledger.get_balance(s, tenant_id=world.tenant_id, account_id=a)
        assert (then.posted, then.pending_out) == (10_000, 0)
        assert (mid.posted, mid.pending_out, mid.available) == (9_400, 400, 9_000)
        assert (now.posted, now.pending_out, now.available) == (8_400, 400, 8_000)
