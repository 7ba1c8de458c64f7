"""One-round-trip reads: scoped by RLS like a session, parameters quoted safely."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import DBAPIError

from ludus.core.kit import driver
from tests.factories import make_actor, make_tenant

_TENANTS_SEEN = "SELECT DISTINCT tenant_id FROM memberships WHERE tenant_id = ANY(%s)"


class TestReadScoped:
    async def test_a_tenant_sees_only_its_rows(self, db) -> None:
        tenant_a, tenant_b = await make_tenant(db), await make_tenant(db)
        await make_actor(db, tenant_a)
        await make_actor(db, tenant_b)
        ids = [tenant_a.id, tenant_b.id]
        rows = await driver.read_scoped(tenant_a.id, _TENANTS_SEEN, (ids,))
        assert [r.tenant_id for r in rows] == [tenant_a.id]
        everyone = await driver.read_scoped(None, _TENANTS_SEEN, (ids,), system=True)
        assert sorted(r.tenant_id for r in everyone) == sorted(ids)
        assert await driver.read_scoped(None, _TENANTS_SEEN, (ids,)) == []

    async def test_runs_as_the_app_role_and_the_scope_ends_with_the_query(self, db) -> None:
        tenant = await make_tenant(db)
        (row,) = await driver.read_scoped(
            tenant.id, "SELECT current_user AS who, current_setting('ludus.tenant_id') AS t", ()
        )
        assert (row.who, row.t) == (db.settings.db_app_role, str(tenant.id))
        pool = await db.read_pool()
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT current_setting('ludus.tenant_id', true)")
            assert (await cur.fetchone())[0] in (None, "")

    async def test_parameters_are_values_not_sql(self, db) -> None:
        hostile = "x'); DROP TABLE tenants; --"
        (row,) = await driver.read_scoped(
            None, "SELECT %s AS v, %s::uuid AS u", (hostile, uuid.UUID(int=7))
        )
        assert (row.v, row.u) == (hostile, uuid.UUID(int=7))

    async def test_a_write_is_refused_and_changes_nothing(self, db) -> None:
        tenant = await make_tenant(db)
        rename = "UPDATE tenants SET name = 'renamed' WHERE id = %s"
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await driver.read_scoped(None, rename, (tenant.id,), system=True)
        (row,) = await driver.read_scoped(
            None, "SELECT name FROM tenants WHERE id = %s", (tenant.id,), system=True
        )
        assert row.name == tenant.name

    async def test_errors_surface_as_sqlalchemy_errors(self, db) -> None:
        with pytest.raises(DBAPIError):
            await driver.read_scoped(None, "SELECT 1 / %s", (0,))
