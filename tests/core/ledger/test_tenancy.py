"""Row-level security: one tenant's session cannot see or move another tenant's money."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import AccountNotFound
from tests.core.ledger.helpers import committed_world


class TestCrossTenant:
    async def test_tenant_a_cannot_read_or_post_to_tenant_b(self, db) -> None:
        a = await committed_world(db)
        b = await committed_world(db)
        async with db.session(tenant_id=a.tenant_id) as s:
            visible = await s.scalar(text("SELECT count(DISTINCT tenant_id) FROM ledger_accounts"))
            assert visible == 1
            for tenant in (a.tenant_id, b.tenant_id):
                with pytest.raises(AccountNotFound):
                    await ledger.get_balance(s, tenant_id=tenant, account_id=b.wallets[0])
            with pytest.raises(AccountNotFound):
                await ledger.move(
                    s,
                    tenant_id=a.tenant_id,
                    idempotency_key=uuid.uuid4().hex,
                    kind="steal",
                    from_account=b.wallets[0],
                    to_account=a.wallets[0],
                    amount=1,
                )
            with pytest.raises(AccountNotFound):
                await ledger.move(
                    s,
                    tenant_id=b.tenant_id,
                    idempotency_key=uuid.uuid4().hex,
                    kind="steal",
                    from_account=b.wallets[0],
                    to_account=b.wallets[1],
                    amount=1,
                )
            with pytest.raises(AccountNotFound):
                await ledger.statement(
                    s, tenant_id=b.tenant_id, account_id=b.wallets[0], offset=0, limit=5
                )
            assert await ledger.total_supply(s, tenant_id=b.tenant_id, asset="USD") == 0
        async with db.session(tenant_id=b.tenant_id) as s:
            assert (
                await ledger.get_balance(s, tenant_id=b.tenant_id, account_id=b.wallets[0])
            ).posted == 10_000

    async def test_rls_refuses_writing_rows_of_another_tenant(self, db) -> None:
        a = await committed_world(db)
        b = await committed_world(db)
        with pytest.raises(ProgrammingError) as info:
            async with db.session(tenant_id=a.tenant_id) as s:
                await s.execute(
                    text(
                        "INSERT INTO ledger_transactions (id, tenant_id, idempotency_key, kind,"
                        " request_hash) VALUES (:id, :t, 'x', 'x', 'x')"
                    ),
                    {"id": uuid.uuid4(), "t": b.tenant_id},
                )
        assert info.value.orig.sqlstate == "42501"
