"""Transactions on autocommit driver connections: we send BEGIN ourselves."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ludus.core.kit import driver
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


_FIRST = (
    "SELECT current_setting('ludus.tenant_id', true) AS tenant, current_user AS who,"
    " txid_current() AS xid"
)


class TestFirstStatementCarriesTheBegin:
    async def test_a_driver_statement_first_runs_scoped_in_the_transaction(self, db) -> None:
        tenant = await make_tenant(db)
        async with db.session(tenant_id=tenant.id) as s:
            (first,) = await driver.fetch(s, _FIRST, ())
            (second,) = await driver.fetch(s, _FIRST, ())
            assert await s.scalar(_XID) == first.xid == second.xid
        assert (first.tenant, first.who) == (str(tenant.id), db.settings.db_app_role)

    async def test_a_failing_first_statement_leaves_the_session_usable(self, db) -> None:
        tenant = await make_tenant(db)
        async with db.sessionmaker() as s:
            s.info.update(tenant_id=tenant.id, bypass_rls=False)
            with pytest.raises(DBAPIError):
                await driver.fetch(s, "SELECT 1 / %s", (0,))
            await s.rollback()
            (row,) = await driver.fetch(s, _FIRST, ())
            assert row.tenant == str(tenant.id)

    async def test_an_unsent_context_is_never_applied_to_a_later_transaction(self) -> None:
        # One pooled connection: a session that began but sent nothing, then a plain
        # connection on the same DBAPI connection must not inherit the session's scope.
        from ludus.core.kit.db import Database
        from ludus.core.kit.settings import get_settings

        settings = get_settings().model_copy(update={"db_pool_size": 1, "db_max_overflow": 0})
        one = Database(settings=settings)
        try:
            tenant = await make_tenant(one)
            async with one.sessionmaker() as s:
                s.info.update(tenant_id=tenant.id, bypass_rls=False)
                await s.connection()  # begun in SQLAlchemy; BEGIN and context not yet sent
                await s.rollback()
            async with one.engine.connect() as conn:
                await conn.begin()
                row = (await conn.execute(text(_FIRST))).one()
                assert row.tenant in (None, "") and row.who != one.settings.db_app_role
        finally:
            await one.dispose()
