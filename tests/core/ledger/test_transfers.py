from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import select

from ludus.core.kit.errors import ValidationFailed
from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import (
    AccountClosed,
    AccountFrozen,
    AccountNotEmpty,
    AccountNotFound,
    AssetMismatch,
    AssetNotFound,
    AssetScaleConflict,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    Unbalanced,
)
from ludus.core.ledger.models import Posting
from tests.core.ledger.helpers import key, posted, snapshot, tx_count
from tests.factories import make_tenant


class TestAssetsAndAccounts:
    async def test_ensure_asset_is_idempotent_and_keeps_its_scale(self, db, session) -> None:
        tenant = await make_tenant(db)
        first = await ledger.ensure_asset(session, tenant_id=tenant.id, code="KES", scale=2)
        again = await ledger.ensure_asset(session, tenant_id=tenant.id, code="KES", scale=2)
        assert first.id == again.id
        with pytest.raises(AssetScaleConflict):
            await ledger.ensure_asset(session, tenant_id=tenant.id, code="KES", scale=0)

    async def test_open_account_is_idempotent_per_owner_asset_purpose(self, world, session) -> None:
        owner = uuid.uuid4()
        args = dict(tenant_id=world.tenant_id, asset="USD", purpose="wallet", owner_type="user")
        a = await ledger.open_account(session, owner_id=owner, **args)
        b = await ledger.open_account(session, owner_id=owner, **args)
        c = await ledger.open_account(session, owner_id=uuid.uuid4(), **args)
        assert a.id == b.id != c.id
        assert a.shards == 0 and a.status == "active"

    async def test_system_accounts_allowed_negative_are_sharded(self, world, session) -> None:
        reserve = await ledger.get_balance(
            session, tenant_id=world.tenant_id, account_id=world.reserve
        )
        assert reserve.posted == -30_000
        again = await ledger.open_account(
            session,
            tenant_id=world.tenant_id,
            asset="USD",
            purpose="reserve",
            owner_type="system",
            allow_negative=True,
        )
        assert again.id == world.reserve and again.shards == ledger.DEFAULT_HOT_SHARDS > 1

    async def test_unknown_asset_is_refused(self, world, session) -> None:
        with pytest.raises(AssetNotFound):
            await ledger.open_account(
                session, tenant_id=world.tenant_id, asset="PEN", purpose="wallet", owner_type="user"
            )


class TestMove:
    async def test_move_posts_two_entries_with_balances_after(self, world, session) -> None:
        a, b = world.wallets[:2]
        tx = await ledger.move(
            session,
            tenant_id=world.tenant_id,
            idempotency_key=key(),
            kind="p2p",
            from_account=a,
            to_account=b,
            amount=2_500,
            metadata={"note": "lunch"},
        )
        assert tx.kind == "p2p" and tx.meta == {"note": "lunch"} and not tx.replayed
        rows = (
            await session.execute(select(Posting).where(Posting.transaction_id == tx.id))
        ).scalars()
        by_account = {p.account_id: p for p in rows}
        assert by_account[a].amount == -2_500 and by_account[a].balance_after == 7_500
        assert by_account[b].amount == 2_500 and by_account[b].balance_after == 12_500
        assert await posted(session, world, a) == 7_500
        assert await posted(session, world, b) == 12_500

    async def test_multi_asset_transaction_balances_per_asset(self, world, session) -> None:
        a = world.wallets[0]
        await ledger.transfer(
            session,
            tenant_id=world.tenant_id,
            idempotency_key=key(),
            kind="buy_coins",
            entries=[
                (a, -100),
                (world.reserve, 100),
                (world.coin_reserve, -5),
                (world.coin_wallet, 5),
            ],
        )
        assert await posted(session, world, world.coin_wallet) == 5
        assert await posted(session, world, a) == 9_900
        report = await ledger.verify(session, tenant_id=world.tenant_id)
        assert report.ok, str(report)

    async def test_supply_counts_positive_balances(self, world, session) -> None:
        assert await ledger.total_supply(session, tenant_id=world.tenant_id, asset="USD") == 30_000
        await ledger.move(
            session,
            tenant_id=world.tenant_id,
            idempotency_key=key(),
            kind="p2p",
            from_account=world.wallets[0],
            to_account=world.wallets[1],
            amount=700,
        )
        assert await ledger.total_supply(session, tenant_id=world.tenant_id, asset="USD") == 30_000
        assert await ledger.total_supply(session, tenant_id=world.tenant_id, asset="COIN") == 0


class TestRefusals:
    @pytest.mark.parametrize(
        ("amount", "error"),
        [(0, InvalidAmount), (-5, InvalidAmount), (1.5, InvalidAmount), (True, InvalidAmount)],
    )
    async def test_bad_amounts(self, world, session, amount, error) -> None:
        before = await snapshot(session, world.tenant_id)
        with pytest.raises(error):
            await ledger.move(
                session,
                tenant_id=world.tenant_id,
                idempotency_key=key(),
                kind="p2p",
                from_account=world.wallets[0],
                to_account=world.wallets[1],
                amount=amount,
            )
        assert await snapshot(session, world.tenant_id) == before

    async def test_each_refusal_has_its_code_and_changes_nothing(self, world, session) -> None:
        a, b, c = world.wallets
        tid = world.tenant_id
        cases = [
            (InsufficientFunds, [(a, -10_001), (b, 10_001)]),
            (Unbalanced, [(a, -10), (b, 9)]),
            (Unbalanced, [(a, -10)]),
            (AssetMismatch, [(a, -10), (world.coin_wallet, 10)]),
            (InvalidAmount, [(a, -10), (a, 10)]),
            (InvalidAmount, [(a, -10), (b, 0), (c, 10)]),
            (AccountNotFound, [(a, -10), (uuid.uuid4(), 10)]),
        ]
        before = await snapshot(session, tid)
        for error, entries in cases:
            with pytest.raises(error) as info:
                await ledger.transfer(
                    session, tenant_id=tid, idempotency_key=key(), kind="t", entries=entries
                )
            assert info.value.code == error.code
        assert await snapshot(session, tid) == before
        # The caller's transaction is still usable after refusals.
        await ledger.move(
            session,
            tenant_id=tid,
            idempotency_key=key(),
            kind="t",
            from_account=a,
            to_account=b,
            amount=1,
        )
        assert await posted(session, world, b) == 10_001

    async def test_frozen_and_closed_accounts(self, world, session) -> None:
        a, b, _ = world.wallets
        tid = world.tenant_id
        await ledger.freeze_account(session, tenant_id=tid, account_id=b)
        with pytest.raises(AccountFrozen):
            await ledger.move(
                session,
                tenant_id=tid,
                idempotency_key=key(),
                kind="t",
                from_account=a,
                to_account=b,
                amount=1,
            )
        await ledger.unfreeze_account(session, tenant_id=tid, account_id=b)
        with pytest.raises(AccountNotEmpty):
            await ledger.close_account(session, tenant_id=tid, account_id=b)
        await ledger.move(
            session,
            tenant_id=tid,
            idempotency_key=key(),
            kind="t",
            from_account=b,
            to_account=a,
            amount=10_000,
        )
        closed = await ledger.close_account(session, tenant_id=tid, account_id=b)
        assert closed.status == "closed"
        with pytest.raises(AccountClosed):
            await ledger.move(
                session,
                tenant_id=tid,
                idempotency_key=key(),
                kind="t",
                from_account=a,
                to_account=b,
                amount=1,
            )
        with pytest.raises(AccountClosed):
            await ledger.unfreeze_account(session, tenant_id=tid, account_id=b)


class TestIdempotency:
    async def test_same_key_same_content_returns_the_first(self, world, session) -> None:
        a, b, _ = world.wallets
        args = dict(
            tenant_id=world.tenant_id,
            idempotency_key="order-1",
            kind="pay",
            from_account=a,
            to_account=b,
            amount=300,
        )
        first = await ledger.move(session, **args)
        count = await tx_count(session, world.tenant_id)
        second = await ledger.move(session, **args)
        assert second.id == first.id and second.replayed
        assert await tx_count(session, world.tenant_id) == count
        assert await posted(session, world, b) == 10_300

    async def test_same_key_other_content_conflicts(self, world, session) -> None:
        a, b, _ = world.wallets
        await ledger.move(
            session,
            tenant_id=world.tenant_id,
            idempotency_key="order-2",
            kind="pay",
            from_account=a,
            to_account=b,
            amount=300,
        )
        before = await snapshot(session, world.tenant_id)
        with pytest.raises(IdempotencyConflict):
            await ledger.move(
                session,
                tenant_id=world.tenant_id,
                idempotency_key="order-2",
                kind="pay",
                from_account=a,
                to_account=b,
                amount=301,
            )
        assert await snapshot(session, world.tenant_id) == before


class TestStatementsAndHistory:
    async def test_statement_is_paginated_newest_first(self, world, session) -> None:
        a, b, _ = world.wallets
        for amount in (1, 2, 3, 4, 5):
            await ledger.move(
                session,
                tenant_id=world.tenant_id,
                idempotency_key=key(),
                kind="t",
                from_account=a,
                to_account=b,
                amount=amount,
            )
        lines, total = await ledger.statement(
            session, tenant_id=world.tenant_id, account_id=a, offset=0, limit=2
        )
        assert total == 5 + 1  # five moves and the funding
        assert [line.amount for line in lines] == [-5, -4]
        assert lines[0].balance_after == 10_000 - 15
        rest, _ = await ledger.statement(
            session, tenant_id=world.tenant_id, account_id=a, offset=4, limit=10
        )
        assert [line.amount for line in rest] == [-1, 10_000]

    async def test_hot_account_spreads_over_shards(self, world, session) -> None:
        for _ in range(3):
            await ledger.move(
                session,
                tenant_id=world.tenant_id,
                idempotency_key=key(),
                kind="reward",
                from_account=world.reserve,
                to_account=world.wallets[0],
                amount=10,
            )
        lines, total = await ledger.statement(
            session, tenant_id=world.tenant_id, account_id=world.reserve, offset=0, limit=10
        )
        assert total == 4 and all(0 <= line.shard < ledger.DEFAULT_HOT_SHARDS for line in lines)
        assert await posted(session, world, world.reserve) == -30_030
        assert (await ledger.verify(session, tenant_id=world.tenant_id)).ok


class TestReturnedTransaction:
    def test_a_process_whose_first_orm_use_is_a_transfer_gets_a_usable_object(self) -> None:
        # The returned transaction is built without the ORM constructor, which is what
        # configures the mappers; a fresh worker process's first job may be a transfer.
        code = (
            "import uuid\n"
            "from sqlalchemy.orm import make_transient_to_detached\n"
            "from ludus.core.ledger.transfer import loaded_transaction\n"
            "tx = loaded_transaction(id=uuid.uuid4(), kind='k')\n"
            "make_transient_to_detached(tx)\n"
            "print(tx.kind)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert (out.returncode, out.stdout.strip()) == (0, "k"), out.stderr[-2000:]

    async def test_it_is_loaded_state_with_nothing_to_flush(self, world, session) -> None:
        tx = await ledger.move(
            session,
            tenant_id=world.tenant_id,
            idempotency_key=uuid.uuid4().hex,
            kind="test",
            from_account=world.wallets[0],
            to_account=world.wallets[1],
            amount=1,
        )
        assert tx in session and tx not in session.dirty and tx not in session.new
        assert tx.kind == "test" and tx.meta == {} and tx.created_at is not None

    async def test_an_account_id_that_is_not_a_uuid_is_refused(self, world, session) -> None:
        before = await tx_count(session, world.tenant_id)
        two = f"{world.wallets[0]},{world.wallets[1]}"
        with pytest.raises(ValidationFailed):
            await ledger.transfer(
                session,
                tenant_id=world.tenant_id,
                idempotency_key=uuid.uuid4().hex,
                kind="test",
                entries=[(two, -1), (world.wallets[2], 1)],  # type: ignore[list-item]
            )
        assert await tx_count(session, world.tenant_id) == before
