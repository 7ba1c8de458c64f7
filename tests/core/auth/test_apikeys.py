"""Tenant API keys: shown once, stored hashed, scoped, revocable."""

from __future__ import annotations

from sqlalchemy import select

from ludus.core.audit.models import AuditEvent
from ludus.core.auth.models import ApiKey, Role
from ludus.core.kit.crypto import hash_token
from ludus.core.kit.db import Database
from tests.core.auth.conftest import ClientFactory
from tests.factories import make_actor, make_tenant


def _key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


class TestApiKeys:
    async def test_create_use_list_revoke(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        client = clients()
        resp = await client.post(
            "/api/v1/auth/api-keys",
            json={"name": "Dashboard", "scopes": ["analytics:read", "catalog:write"]},
            headers=admin.headers,
        )
        assert resp.status_code == 201, resp.text
        created = resp.json()["data"]
        key = created["key"]
        assert key.startswith(f"lk_live_{created['prefix']}_") and len(key) > 60
        assert created["role"] == "tenant_admin"
        async with db.session(system=True) as s:
            row = await s.get(ApiKey, created["id"])
        assert row is not None and row.key_hash == hash_token(key) and key not in row.key_hash

        listed = (await client.get("/api/v1/auth/api-keys", headers=admin.headers)).json()
        assert listed["pagination"]["total"] == 1
        item = listed["data"]["items"][0]
        assert "key" not in item and item["prefix"] == created["prefix"]
        assert item["last_used_at"] is None

        # The key acts for its tenant with its role.
        tenant_resp = await client.get("/api/v1/partner/config", headers=_key_headers(key))
        assert tenant_resp.status_code == 200, tenant_resp.text
        assert tenant_resp.json()["data"]["id"] == str(tenant.id)
        me = await client.get("/api/v1/me", headers=_key_headers(key))
        assert me.status_code == 403  # a key is not a person
        listed = (await client.get("/api/v1/auth/api-keys", headers=admin.headers)).json()
        assert listed["data"]["items"][0]["last_used_at"] is not None

        revoke = await client.delete(
            f"/api/v1/auth/api-keys/{created['id']}", headers=admin.headers
        )
        assert revoke.status_code == 204
        after = await client.get("/api/v1/partner/config", headers=_key_headers(key))
        assert after.status_code == 401
        assert after.json()["error"]["code"] == "INVALID_API_KEY"
        async with db.session(system=True) as s:
            actions = set(
                (
                    await s.scalars(
                        select(AuditEvent.action).where(AuditEvent.target_id == created["id"])
                    )
                ).all()
            )
        assert actions == {"auth.api_key_created", "auth.api_key_revoked"}

    async def test_unknown_and_malformed_keys(self, clients: ClientFactory) -> None:
        client = clients()
        for key in ("lk_live_abc_def", "not-a-key", "lk_live_" + "0" * 200):
            resp = await client.get("/api/v1/partner/config", headers=_key_headers(key))
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "INVALID_API_KEY"

    async def test_staff_role_key_cannot_use_admin_routes(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        client = clients()
        created = (
            await client.post(
                "/api/v1/auth/api-keys",
                json={"name": "Reader", "scopes": ["analytics:read"], "role": "staff"},
                headers=admin.headers,
            )
        ).json()["data"]
        resp = await client.get("/api/v1/partner/config", headers=_key_headers(created["key"]))
        assert resp.status_code == 403
        assert (
            await client.get("/api/v1/tenant", headers=_key_headers(created["key"]))
        ).status_code == 200

    async def test_only_tenant_admins_and_only_their_tenant(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant, other = await make_tenant(db), await make_tenant(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        other_admin = await make_actor(db, other, Role.tenant_admin)
        member = await make_actor(db, tenant, Role.member)
        client = clients()
        body = {"name": "Mine", "scopes": ["*"]}
        assert (
            await client.post("/api/v1/auth/api-keys", json=body, headers=member.headers)
        ).status_code == 403
        created = (
            await client.post("/api/v1/auth/api-keys", json=body, headers=admin.headers)
        ).json()["data"]
        theirs = await client.delete(
            f"/api/v1/auth/api-keys/{created['id']}", headers=other_admin.headers
        )
        assert theirs.status_code == 404
        listed = (await client.get("/api/v1/auth/api-keys", headers=other_admin.headers)).json()
        assert listed["pagination"]["total"] == 0
        # A key cannot mint more keys.
        minted = await client.post(
            "/api/v1/auth/api-keys", json=body, headers=_key_headers(created["key"])
        )
        assert minted.status_code == 403
        bad = await client.post(
            "/api/v1/auth/api-keys",
            json={"name": "x", "scopes": ["Bad Scope"]},
            headers=admin.headers,
        )
        assert bad.status_code == 422
