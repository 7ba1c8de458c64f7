from __future__ import annotations

import asyncio
import uuid

from httpx import AsyncClient
from sqlalchemy import func, select

from ludus.core.audit.models import AuditEvent
from ludus.core.auth.models import Role
from ludus.core.idempotency.models import IdempotencyRecord
from ludus.core.kit import clock
from ludus.core.tenancy.models import Tenant
from tests.factories import make_actor, make_tenant, unique


def tenant_body(slug: str) -> dict[str, object]:
    return {"slug": slug, "name": "Idem", "kind": "chama", "products": ["savings"]}


class TestIdempotencyKey:
    async def test_twenty_concurrent_duplicates_create_once(self, client: AsyncClient, db) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        slug = unique("idem")
        headers = {**admin.headers, "Idempotency-Key": unique("key")}
        responses = await asyncio.gather(
            *(
                client.post("/api/v1/admin/tenants", json=tenant_body(slug), headers=headers)
                for _ in range(20)
            )
        )
        assert {r.status_code for r in responses} == {201}
        assert len({r.content for r in responses}) == 1
        assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
        async with db.session(system=True) as s:
            created = await s.scalar(
                select(func.count()).select_from(Tenant).where(Tenant.slug == slug)
            )
            audits = await s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.action == "tenant.created", AuditEvent.after["slug"].astext == slug
                )
            )
        assert created == 1
        assert audits == 1

    async def test_same_key_different_body_is_409(self, client: AsyncClient, db) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        headers = {**admin.headers, "Idempotency-Key": unique("key")}
        first = await client.post(
            "/api/v1/admin/tenants", json=tenant_body(unique("a")), headers=headers
        )
        assert first.status_code == 201
        second = await client.post(
            "/api/v1/admin/tenants", json=tenant_body(unique("b")), headers=headers
        )
        assert second.status_code == 409
        assert second.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"

    async def test_failed_request_releases_the_key(self, client: AsyncClient, db) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        headers = {**admin.headers, "Idempotency-Key": unique("key")}
        bad = await client.post(
            "/api/v1/admin/tenants",
            json={**tenant_body(unique("c")), "kind": "nope"},
            headers=headers,
        )
        assert bad.status_code == 422
        retry = await client.post(
            "/api/v1/admin/tenants",
            json={**tenant_body(unique("c")), "kind": "nope"},
            headers=headers,
        )
        assert retry.status_code == 422
        assert retry.headers.get("idempotent-replayed") is None

    async def test_keys_are_scoped_per_principal(self, client: AsyncClient, db) -> None:
        tenant_a, tenant_b = await make_tenant(db), await make_tenant(db)
        admin_a = await make_actor(db, tenant_a, Role.tenant_admin)
        admin_b = await make_actor(db, tenant_b, Role.tenant_admin)
        key = unique("shared")
        body = {"name": "Renamed"}
        for admin in (admin_a, admin_b):
            resp = await client.put(
                "/api/v1/partner/config",
                json=body,
                headers={**admin.headers, "Idempotency-Key": key},
            )
            assert resp.status_code == 200
            assert resp.headers.get("idempotent-replayed") is None
            assert resp.json()["data"]["id"] == str(admin.tenant.id)

    async def test_a_claim_left_committed_is_taken_over(self, client: AsyncClient, db) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        key = unique("key")
        async with db.session(system=True) as s:
            s.add(
                IdempotencyRecord(
                    id=uuid.uuid4(),
                    tenant_id=None,
                    principal=f"user:None:{admin.user.id}",
                    key=key,
                    method="POST",
                    path="/api/v1/admin/tenants",
                    body_hash="0" * 64,
                    status="in_progress",
                    locked_at=clock.utcnow(),
                )
            )
        slug = unique("taken")
        resp = await client.post(
            "/api/v1/admin/tenants",
            json=tenant_body(slug),
            headers={**admin.headers, "Idempotency-Key": key},
        )
        assert resp.status_code == 201
        assert resp.headers.get("idempotent-replayed") is None
        again = await client.post(
            "/api/v1/admin/tenants",
            json=tenant_body(slug),
            headers={**admin.headers, "Idempotency-Key": key},
        )
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.content == resp.content
