from __future__ import annotations

from httpx import AsyncClient

from ludus.core.auth.models import Role
from tests.factories import make_actor, make_tenant


class TestHealth:
    async def test_live_and_ready(self, client: AsyncClient) -> None:
        assert (await client.get("/health/live")).json() == {"status": "ok"}
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.headers["x-request-id"]


class TestMe:
    async def test_me_with_token(self, client: AsyncClient, db) -> None:
        tenant = await make_tenant(db)
        actor = await make_actor(db, tenant, Role.member)
        resp = await client.get("/api/v1/me", headers=actor.headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["success"] is True
        assert body["data"]["user"]["id"] == str(actor.user.id)
        assert body["data"]["role"] == "member"
        assert resp.headers["x-ratelimit-limit"] == "600"

    async def test_me_without_token(self, client: AsyncClient) -> None:
        resp = await client.get("/api/v1/me")
        assert resp.status_code == 401
        assert resp.json() == {
            "success": False,
            "error": {
                "code": "UNAUTHORIZED",
                "message": "Authentication is required.",
                "details": {},
            },
        }
