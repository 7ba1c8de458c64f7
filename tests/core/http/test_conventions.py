from __future__ import annotations

from httpx import AsyncClient

from ludus.core.auth.models import Role
from ludus.core.kit.errors import LudusError
from tests.factories import make_actor, make_tenant


class TestEnvelopeAndHeaders:
    async def test_unknown_route_is_enveloped_404(self, client: AsyncClient) -> None:
        resp = await client.get("/api/v1/nope")
        assert resp.status_code == 404
        assert resp.json()["success"] is False
        assert resp.json()["error"]["code"] == "NOT_FOUND"

    async def test_request_id_is_echoed_or_generated(self, client: AsyncClient) -> None:
        given = await client.get("/health/live", headers={"X-Request-Id": "abc-123"})
        assert given.headers["x-request-id"] == "abc-123"
        generated = await client.get("/health/live", headers={"X-Request-Id": "bad id with spaces"})
        assert len(generated.headers["x-request-id"]) == 32

    async def test_oversize_body_is_413(self, client: AsyncClient, db) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        body = b'{"name": "' + b"x" * 1_100_000 + b'"}'
        resp = await client.post(
            "/api/v1/admin/tenants",
            content=body,
            headers={**admin.headers, "Content-Type": "application/json"},
        )
        assert resp.status_code == 413
        assert resp.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

    async def test_pagination_block(self, client: AsyncClient, db) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        for _ in range(3):
            await make_tenant(db)
        resp = await client.get("/api/v1/admin/tenants?page=1&limit=2", headers=admin.headers)
        body = resp.json()
        assert len(body["data"]["items"]) == 2
        assert body["pagination"]["page"] == 1 and body["pagination"]["limit"] == 2
        assert body["pagination"]["total"] >= 3 and body["pagination"]["has_more"] is True
        bad = await client.get("/api/v1/admin/tenants?limit=1000", headers=admin.headers)
        assert bad.status_code == 422


class TestRateLimitHeaders:
    async def test_api_limit_counts_down_and_429s(
        self, client: AsyncClient, db, monkeypatch
    ) -> None:
        from ludus.core.kit.settings import get_settings

        monkeypatch.setattr(get_settings(), "api_rate_limit", "3/minute")
        tenant = await make_tenant(db)
        actor = await make_actor(db, tenant)
        remaining = []
        for _ in range(3):
            resp = await client.get("/api/v1/me", headers=actor.headers)
            remaining.append(resp.headers["x-ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]
        limited = await client.get("/api/v1/me", headers=actor.headers)
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "RATE_LIMITED"
        assert int(limited.headers["retry-after"]) >= 1


class TestObservability:
    async def test_metrics_count_routes(self, client: AsyncClient) -> None:
        await client.get("/health/live")
        await client.get("/api/v1/tenants/none-such/theme")
        body = (await client.get("/metrics")).text
        assert 'ludus_http_requests_total{method="GET",route="/health/live",status="200"}' in body
        assert 'route="/api/v1/tenants/{slug}/theme",status="404"' in body
        assert "ludus_http_request_duration_seconds_bucket" in body

    async def test_openapi_lists_every_error_code(self, client: AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()
        listed = {e["code"] for e in schema["x-error-codes"]}
        assert set(LudusError.registry) <= listed
        assert {"IDEMPOTENCY_KEY_REUSED", "TENANT_SUSPENDED", "PAYLOAD_TOO_LARGE"} <= listed
        me = schema["paths"]["/api/v1/me"]["get"]["responses"]
        assert me["4XX"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorEnvelope")


class TestRateLimitExemptions:
    async def test_registered_callback_prefix_is_not_limited(
        self, client: AsyncClient, monkeypatch
    ) -> None:
        from ludus.core.http import ratelimit
        from ludus.core.kit.settings import get_settings

        monkeypatch.setattr(get_settings(), "api_rate_limit", "2/minute")
        monkeypatch.setattr(ratelimit, "_exempt_prefixes", {"/api/v1/tenants/"})
        statuses = [
            (await client.get("/api/v1/tenants/none-such/theme")).status_code for _ in range(4)
        ]
        assert statuses == [404, 404, 404, 404]
        limited = [(await client.get("/api/v1/nope")).status_code for _ in range(3)]
        assert limited == [404, 404, 429]


class TestRateLimiterBackends:
    async def test_memory_and_redis_count_the_same(self) -> None:
        import socket
        import uuid

        import pytest

        from ludus.core.http.ratelimit import RateLimiter

        backends = [RateLimiter(None)]
        try:
            socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
            backends.append(RateLimiter("redis://127.0.0.1:6379/0"))
        except OSError:
            pytest.skip("no Redis on 127.0.0.1:6379")
        for limiter in backends:
            key = uuid.uuid4().hex
            decisions = [await limiter.hit("3/minute", "test", key) for _ in range(4)]
            assert [d.allowed for d in decisions] == [True, True, True, False]
            assert [d.remaining for d in decisions] == [2, 1, 0, 0]
