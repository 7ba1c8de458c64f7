"""Tenant isolation: service scoping through the API, and RLS underneath it."""

from __future__ import annotations

import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from ludus.core.auth.models import Membership, Role
from tests.factories import make_actor, make_tenant


class TestRowLevelSecurity:
    async def test_every_tenant_table_has_forced_rls(self, db) -> None:
        async with db.session(system=True) as s:
            rows = (
                await s.execute(
                    text(
                        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
                        " EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)"
                        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'"
                        " WHERE n.nspname = 'public' AND c.relkind = 'r'"
                    )
                )
            ).all()
        assert rows, "no tenant tables found"
        unprotected = [r[0] for r in rows if not (r[1] and r[2] and r[3])]
        assert unprotected == []

    async def test_raw_query_in_tenant_a_cannot_see_tenant_b(self, db) -> None:
        tenant_a, tenant_b = await make_tenant(db), await make_tenant(db)
        await make_actor(db, tenant_a)
        await make_actor(db, tenant_b)
        async with db.session(tenant_id=tenant_a.id) as s:
            seen = (
                (await s.execute(text("SELECT DISTINCT tenant_id FROM memberships")))
                .scalars()
                .all()
            )
            sessions = (
                (await s.execute(text("SELECT DISTINCT tenant_id FROM auth_sessions")))
                .scalars()
                .all()
            )
            assert await s.scalar(text("SELECT current_user")) == db.settings.db_app_role
        assert seen == [tenant_a.id]
        assert sessions == [tenant_a.id]

    async def test_no_tenant_context_sees_nothing(self, db) -> None:
        tenant = await make_tenant(db)
        await make_actor(db, tenant)
        async with db.session() as s:
            assert await s.scalar(text("SELECT count(*) FROM memberships")) == 0

    async def test_writes_into_another_tenant_are_refused(self, db) -> None:
        tenant_a, tenant_b = await make_tenant(db), await make_tenant(db)
        actor_b = await make_actor(db, tenant_b)
        with pytest.raises(ProgrammingError, match="row-level security"):
            async with db.session(tenant_id=tenant_a.id) as s:
                s.add(
                    Membership(
                        id=uuid.uuid4(),
                        tenant_id=tenant_b.id,
                        user_id=actor_b.user.id,
                        role=Role.member,
                    )
                )
                await s.flush()
        async with db.session(tenant_id=tenant_a.id) as s:
            updated = await s.execute(
                text("UPDATE memberships SET role = 'tenant_admin' WHERE tenant_id = :t"),
                {"t": tenant_b.id},
            )
            assert updated.rowcount == 0  # type: ignore[attr-defined]


class TestCrossTenantApi:
    async def test_tenant_a_admin_cannot_read_tenant_b_audit(self, client: AsyncClient, db) -> None:
        tenant_a, tenant_b = await make_tenant(db), await make_tenant(db)
        admin_a = await make_actor(db, tenant_a, Role.tenant_admin)
        admin_b = await make_actor(db, tenant_b, Role.tenant_admin)
        await client.put("/api/v1/partner/config", json={"name": "B"}, headers=admin_b.headers)
        resp = await client.get(
            f"/api/v1/audit/events?tenant_id={tenant_b.id}", headers=admin_a.headers
        )
        assert resp.status_code == 200
        assert resp.json()["data"]["items"] == []
        mine = await client.get("/api/v1/audit/events", headers=admin_b.headers)
        assert len(mine.json()["data"]["items"]) == 1

    async def test_tenant_config_is_the_callers_own(self, client: AsyncClient, db) -> None:
        tenant_a, tenant_b = await make_tenant(db, name="A"), await make_tenant(db, name="B")
        admin_a = await make_actor(db, tenant_a, Role.tenant_admin)
        resp = await client.get("/api/v1/partner/config", headers=admin_a.headers)
        assert resp.json()["data"]["id"] == str(tenant_a.id)
        changed = await client.put(
            "/api/v1/partner/config", json={"name": "A2"}, headers=admin_a.headers
        )
        assert changed.json()["data"]["id"] == str(tenant_a.id)
        async with db.session(system=True) as s:
            name_b = await s.scalar(
                text("SELECT name FROM tenants WHERE id = :id"), {"id": tenant_b.id}
            )
        assert name_b == "B"

    async def test_tenant_admin_cannot_suspend_other_tenants(self, client: AsyncClient, db) -> None:
        tenant_a, tenant_b = await make_tenant(db), await make_tenant(db)
        admin_a = await make_actor(db, tenant_a, Role.tenant_admin)
        resp = await client.post(
            f"/api/v1/admin/tenants/{tenant_b.id}/suspend", headers=admin_a.headers
        )
        assert resp.status_code == 403
