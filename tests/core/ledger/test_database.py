"""What PostgreSQL itself enforces, whatever the application does."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from ludus.core.kit.errors import ConcurrentUpdate
from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import Unbalanced
from tests.core.ledger.helpers import committed_world

_TX = text(
    "INSERT INTO ledger_transactions (id, tenant_id, idempotency_key, kind, request_hash)"
    " VALUES (:id, :t, :k, 'manual', 'x')"
)
_POSTING = text(
    "INSERT INTO ledger_postings (tenant_id, transaction_id, account_id, asset, amount,"
    " balance_after, shard, seq) VALUES (:t, :tx, :a, 'USD', :m, 0, -1, 999)"
)


async def _write_unbalanced(session, world) -> None:
    tx_id = uuid.uuid4()
    await session.execute(_TX, {"id": tx_id, "t": world.tenant_id, "k": uuid.uuid4().hex})
    await session.execute(
        _POSTING, {"t": world.tenant_id, "tx": tx_id, "a": world.wallets[0], "m": 5}
    )
    await session.execute(
        _POSTING, {"t": world.tenant_id, "tx": tx_id, "a": world.wallets[1], "m": -4}
    )


class TestDatabaseEnforcement:
    async def test_unbalanced_postings_fail_at_commit(self, db) -> None:
        world = await committed_world(db)
        with pytest.raises(IntegrityError) as info:
            async with db.session(tenant_id=world.tenant_id) as s:
                await _write_unbalanced(s, world)
        assert info.value.orig.diag.constraint_name == "ledger_postings_balanced"
        async with db.session(tenant_id=world.tenant_id) as s:
            assert (await ledger.verify(s, tenant_id=world.tenant_id)).ok

    async def test_the_app_maps_the_deferred_check_to_unbalanced(self, db) -> None:
        world = await committed_world(db)
        with pytest.raises(Unbalanced):
            async with db.session(tenant_id=world.tenant_id) as s:
                await ledger.ensure_balanced(s)  # nothing pending: passes
                await _write_unbalanced(s, world)
                await ledger.ensure_balanced(s)

    async def test_non_negative_accounts_cannot_go_below_zero(self, db, session) -> None:
        world = await committed_world(db)
        with pytest.raises(IntegrityError) as info:
            async with session.begin_nested():
                await session.execute(
                    text("UPDATE ledger_accounts SET balance = -1 WHERE id = :id"),
                    {"id": world.wallets[0]},
                )
        assert info.value.orig.diag.constraint_name == "ck_ledger_accounts_non_negative"

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE ledger_postings SET amount = amount + 1 WHERE tenant_id = :t",
            "DELETE FROM ledger_postings WHERE tenant_id = :t",
            "UPDATE ledger_transactions SET kind = 'x' WHERE tenant_id = :t",
            "DELETE FROM ledger_transactions WHERE tenant_id = :t",
            "DELETE FROM ledger_accounts WHERE tenant_id = :t",
        ],
    )
    async def test_the_app_role_cannot_rewrite_history(self, db, session, statement) -> None:
        world = await committed_world(db)
        with pytest.raises(ProgrammingError) as info:
            async with session.begin_nested():
                await session.execute(text(statement), {"t": world.tenant_id})
        assert info.value.orig.sqlstate == "42501"  # insufficient_privilege


class TestTransferFunction:
    """`ledger_transfer` runs as its owner (no row-level security inside it)."""

    async def test_it_refuses_a_tenant_other_than_the_transactions(self, db) -> None:
        a = await committed_world(db)
        b = await committed_world(db)
        async with db.session(tenant_id=a.tenant_id) as s:
            row = (
                await s.execute(
                    text(
                        "SELECT err FROM ledger_transfer(:t, 'steal', 'steal', '{}', 'h',"
                        " CAST(:ids AS uuid[]), ARRAY[-1, 1]::bigint[])"
                    ),
                    {"t": b.tenant_id, "ids": [b.wallets[0], b.wallets[1]]},
                )
            ).one()
        assert row.err == "ACCOUNT_NOT_FOUND"
        async with db.session(tenant_id=b.tenant_id) as s:
            assert (
                await ledger.get_balance(s, tenant_id=b.tenant_id, account_id=b.wallets[0])
            ).posted == 10_000
            assert (await ledger.verify(s, tenant_id=b.tenant_id)).ok

    async def test_only_the_app_role_may_execute_it(self, db) -> None:
        query = text(
            "SELECT has_function_privilege(:role, 'ledger_transfer(uuid, text, text, jsonb,"
            " text, uuid[], bigint[], uuid, uuid, uuid, bigint)', 'EXECUTE')"
        )
        async with db.session(system=True) as s:
            assert await s.scalar(query, {"role": db.settings.db_app_role})
            assert not await s.scalar(query, {"role": "public"})


async def _repeatable_read_session(db, tenant_id):  # type: ignore[no-untyped-def]
    """A session whose transaction snapshot is taken now, in REPEATABLE READ."""
    session = db.sessionmaker()
    session.info["tenant_id"] = tenant_id
    session.info["bypass_rls"] = False
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    await session.execute(text("SELECT 1"))
    return session


async def _move_one(db, world, key: str) -> None:  # type: ignore[no-untyped-def]
    async with db.session(tenant_id=world.tenant_id) as s:
        await ledger.move(
            s,
            tenant_id=world.tenant_id,
            idempotency_key=key,
            kind="test",
            from_account=world.wallets[0],
            to_account=world.wallets[1],
            amount=1,
        )


class TestRetryableTransfer:
    """A deadlock or serialization failure undoes only the call, never the caller's work."""

    async def test_the_server_undoes_the_call_and_answers_retry(self, db) -> None:
        world = await committed_world(db)
        session = await _repeatable_read_session(db, world.tenant_id)
        try:
            await _move_one(db, world, "first")  # commits after our snapshot
            row = (
                await session.execute(
                    text(
                        "SELECT err, detail FROM ledger_transfer_retryable(:t, 'second', 'test',"
                        " '{}', 'h', CAST(:ids AS uuid[]), ARRAY[-1, 1]::bigint[])"
                    ),
                    {"t": world.tenant_id, "ids": [world.wallets[0], world.wallets[1]]},
                )
            ).one()
            assert row.err == "RETRY" and row.detail == {"sqlstate": "40001"}
            assert await session.scalar(text("SELECT 1")) == 1  # the transaction lives on
        finally:
            await session.close()

    async def test_retries_that_never_succeed_end_in_concurrent_update(self, db) -> None:
        world = await committed_world(db)
        session = await _repeatable_read_session(db, world.tenant_id)
        try:
            await _move_one(db, world, "first")
            with pytest.raises(ConcurrentUpdate):
                await ledger.move(
                    session,
                    tenant_id=world.tenant_id,
                    idempotency_key="second",
                    kind="test",
                    from_account=world.wallets[0],
                    to_account=world.wallets[1],
                    amount=1,
                )
            assert await session.scalar(text("SELECT 1")) == 1
        finally:
            await session.close()
        async with db.session(tenant_id=world.tenant_id) as s:
            assert (
                await ledger.get_balance(s, tenant_id=world.tenant_id, account_id=world.wallets[0])
            ).posted == 10_000 - 1
            assert (await ledger.verify(s, tenant_id=world.tenant_id)).ok
