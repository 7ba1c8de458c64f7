from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import func, select

from ludus.core.audit.models import AuditEvent
from ludus.core.auth.models import Role
from tests.factories import make_actor, make_tenant, unique

NEW_TENANT = {
    "name": "ABC Bank",
    "kind": "bank_partner",
    "products": ["moneylife"],
    "theme": {"brand_name": "SmartMoney by ABC Bank", "primary_color": "#0A3D6B"},
    "features": {"classroom_mode": True, "max_level": 8},
    "currency": "USD",
    "timezone": "America/New_York",
}


class TestPublicTheme:
    async def test_theme_is_public(self, client: AsyncClient, db) -> None:
        tenant = await make_tenant(
            db, theme={"brand_name": "Chama Yetu", "primary_color": "#112233"}
        )
        resp = await client.get(f"/api/v1/tenants/{tenant.slug}/theme")
        assert resp.status_code == 200
        data = resp.json()["data"]
        assert data["theme"]["brand_name"] == "Chama Yetu"
        assert data["slug"] == tenant.slug

    async def test_unknown_slug_is_404(self, client: AsyncClient) -> None:
        resp = await client.get("/api/v1/tenants/does-not-exist/theme")
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "NOT_FOUND"


class TestTenantAdministration:
    async def test_system_admin_creates_lists_and_suspends(self, client: AsyncClient, db) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        slug = unique("abc")
        resp = await client.post(
            "/api/v1/admin/tenants", json={**NEW_TENANT, "slug": slug}, headers=admin.headers
        )
        assert resp.status_code == 201, resp.text
        tenant = resp.json()["data"]
        assert tenant["slug"] == slug and tenant["status"] == "active"
        assert tenant["features"] == {"classroom_mode": True, "max_level": 8}

        again = await client.post(
            "/api/v1/admin/tenants", json={**NEW_TENANT, "slug": slug}, headers=admin.headers
        )
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "TENANT_SLUG_TAKEN"

        suspended = await client.post(
            f"/api/v1/admin/tenants/{tenant['id']}/suspend", headers=admin.headers
        )
        assert suspended.json()["data"]["status"] == "suspended"
        async with db.session(system=True) as s:
            actions = (
                await s.scalars(
                    select(AuditEvent.action)
                    .where(AuditEvent.target_id == tenant["id"])
                    .order_by(AuditEvent.created_at)
                )
            ).all()
        assert actions == ["tenant.created", "tenant.suspended"]

    async def test_suspended_tenant_answers_403(self, client: AsyncClient, db) -> None:
        tenant = await make_tenant(db)
        member = await make_actor(db, tenant, Role.member)
        admin = await make_actor(db, None, Role.system_admin)
        assert (await client.get("/api/v1/me", headers=member.headers)).status_code == 200
        await client.post(f"/api/v1/admin/tenants/{tenant.id}/suspend", headers=admin.headers)
        resp = await client.get("/api/v1/me", headers=member.headers)
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "TENANT_SUSPENDED"
        theme = await client.get(f"/api/v1/tenants/{tenant.slug}/theme")
        assert theme.json()["error"]["code"] == "TENANT_SUSPENDED"
        await client.post(f"/api/v1/admin/tenants/{tenant.id}/activate", headers=admin.headers)
        assert (await client.get("/api/v1/me", headers=member.headers)).status_code == 200

    async def test_tenant_admin_cannot_create_tenants(self, client: AsyncClient, db) -> None:
        tenant = await make_tenant(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        resp = await client.post(
            "/api/v1/admin/tenants", json={**NEW_TENANT, "slug": unique("x")}, headers=admin.headers
        )
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "FORBIDDEN"

    async def test_bad_theme_colour_is_refused(self, client: AsyncClient, db) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        body = {**NEW_TENANT, "slug": unique("c"), "theme": {"primary_color": "blue"}}
        resp = await client.post("/api/v1/admin/tenants", json=body, headers=admin.headers)
        assert resp.status_code == 422
        fields = [e["field"] for e in resp.json()["error"]["details"]["errors"]]
        assert fields == ["theme.primary_color"]


class TestPartnerConfig:
    async def test_tenant_admin_updates_theme_and_flags(self, client: AsyncClient, db) -> None:
        tenant = await make_tenant(db, features={"bnpl": False})
        admin = await make_actor(db, tenant, Role.tenant_admin)
        resp = await client.put(
            "/api/v1/partner/config",
            json={"theme": {"accent_color": "#FF9800"}, "features": {"bnpl": True}},
            headers=admin.headers,
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert data["theme"]["accent_color"] == "#FF9800"
        assert data["theme"]["primary_color"] == "#0A3D6B"  # untouched fields stay
        assert data["features"]["bnpl"] is True
        audit = await client.get(
            "/api/v1/audit/events?action=tenant.config_updated", headers=admin.headers
        )
        events = audit.json()["data"]["items"]
        assert len(events) == 1
        assert events[0]["before"]["features"] == {"bnpl": False}
        assert events[0]["after"]["features"] == {"bnpl": True}

    async def test_members_cannot_change_config(self, client: AsyncClient, db) -> None:
        tenant = await make_tenant(db)
        member = await make_actor(db, tenant, Role.member)
        resp = await client.put(
            "/api/v1/partner/config", json={"name": "Hijack"}, headers=member.headers
        )
        assert resp.status_code == 403
        async with db.session(system=True) as s:
            count = await s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.tenant_id == tenant.id)
            )
        assert count == 0
