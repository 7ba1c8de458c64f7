"""Transactions on autocommit driver connections: we send BEGIN ourselves."""

from __future__ import annotations

from sqlalchemy import text

from ludus.core.kit.db import set_tenant
from tests.factories import make_tenant

_XID = text("SELECT txid_current()")
_CONTEXT = text("SELECT current_setting('ludus.tenant_id', true), current_user")


class TestSessionTransactions:
    async def test_statements_share_one_server_transaction_with_the_context(self, db) -> None:
        tenant = await make_tenant(db)
        async with db.session(tenant_id=tenant.id) as s:
            first = await s.scalar(_XID)
            assert await s.scalar(_XID) == first
            scoped, role = (await s.execute(_CONTEXT)).one()
        assert (scoped, role) == (str(tenant.id), db.settings.db_app_role)

    async def test_a_rollback_undoes_the_writes(self, db) -> None:
        tenant = await make_tenant(db)
        rename = text("UPDATE tenants SET name = 'renamed' WHERE id = :id")
        async with db.sessionmaker() as s:
            s.info["bypass_rls"] = True
            assert (await s.execute(rename, {"id": tenant.id})).rowcount == 1
            await s.rollback()
        async with db.session(system=True) as s:
            name = await s.scalar(text("SELECT name FROM tenants WHERE id = :i"), {"i": tenant.id})
        assert name == tenant.name

    async def test_rescoping_mid_transaction_keeps_the_transaction(self, db) -> None:
        tenant_a, tenant_b = await make_tenant(db), await make_tenant(db)
        async with db.session(tenant_id=tenant_a.id) as s:
            first = await s.scalar(_XID)
            await set_tenant(s, tenant_b.id)
            assert await s.scalar(_XID) == first
            assert (await s.execute(_CONTEXT)).one()[0] == str(tenant_b.id)

    async def test_each_commit_begins_a_new_scoped_transaction(self, db) -> None:
        tenant = await make_tenant(db)
        async with db.session(tenant_id=tenant.id) as s:
            first = await s.scalar(_XID)
            await s.commit()
            assert await s.scalar(_XID) != first
            assert (await s.execute(_CONTEXT)).one()[0] == str(tenant.id)


class TestEngineConnections:
    async def test_a_transaction_begun_on_a_connection_is_real(self, db) -> None:
        async with db.engine.connect() as conn:
            await conn.begin()
            first = await conn.scalar(_XID)
            assert await conn.scalar(_XID) == first
            await conn.rollback()
            assert await conn.scalar(_XID) != first
