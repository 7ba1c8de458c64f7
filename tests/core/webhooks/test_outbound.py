"""Outbound webhooks: subscriptions, signed deliveries to a real local server, retries, log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, text

from ludus.core.auth.models import Role
from ludus.core.events.service import emit
from ludus.core.jobs.runner import run_pending
from ludus.core.kit.db import Database
from ludus.core.webhooks import signing
from ludus.core.webhooks.models import Delivery
from tests.core.webhooks.receiver import Receiver
from tests.factories import Actor, make_actor, make_tenant

BASE = "/api/v1/partner/webhooks"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


async def _admin(db: Database) -> Actor:
    tenant = await make_tenant(db)
    return await make_actor(db, tenant, Role.tenant_admin)


async def _subscribe(client: AsyncClient, admin: Actor, url: str, types: list[str]) -> dict:
    resp = await client.post(
        f"{BASE}/subscriptions", json={"url": url, "event_types": types}, headers=admin.headers
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


async def _emit(db: Database, tenant_id: uuid.UUID, event_type: str = "orders.paid") -> uuid.UUID:
    async with db.session(tenant_id=tenant_id) as s:
        return await emit(
            s, event_type=event_type, tenant_id=tenant_id, data={"amount": 1250}, source="tests"
        )


class TestSubscriptions:
    async def test_secret_shown_once(self, client: AsyncClient, db: Database) -> None:
        admin = await _admin(db)
        created = await _subscribe(client, admin, "https://example.com/hook", ["orders.*"])
        assert created["secret"].startswith("whsec_")
        got = await client.get(f"{BASE}/subscriptions/{created['id']}", headers=admin.headers)
        assert got.status_code == 200 and "secret" not in got.json()["data"]
        listed = await client.get(f"{BASE}/subscriptions", headers=admin.headers)
        assert [s["id"] for s in listed.json()["data"]["items"]] == [created["id"]]

    async def test_invalid_input_is_refused(self, client: AsyncClient, db: Database) -> None:
        admin = await _admin(db)
        for body in (
            {"url": "ftp://example.com/x", "event_types": ["a.b"]},
            {"url": "https://example.com/x", "event_types": ["Bad Type"]},
            {"url": "https://example.com/x", "event_types": []},
        ):
            resp = await client.post(f"{BASE}/subscriptions", json=body, headers=admin.headers)
            assert resp.status_code == 422, body
            assert resp.json()["error"]["code"] == "VALIDATION_ERROR"

    async def test_other_tenant_cannot_see_it(self, client: AsyncClient, db: Database) -> None:
        admin = await _admin(db)
        other = await _admin(db)
        created = await _subscribe(client, admin, "https://example.com/hook", ["*"])
        resp = await client.get(f"{BASE}/subscriptions/{created['id']}", headers=other.headers)
        assert resp.status_code == 404
        member = await make_actor(db, admin.tenant, Role.member)
        assert (
            await client.get(f"{BASE}/subscriptions", headers=member.headers)
        ).status_code == 403

    async def test_delete_and_update(self, client: AsyncClient, db: Database) -> None:
        admin = await _admin(db)
        created = await _subscribe(client, admin, "https://example.com/hook", ["*"])
        patched = await client.patch(
            f"{BASE}/subscriptions/{created['id']}",
            json={"event_types": ["orders.paid"], "active": False},
            headers=admin.headers,
        )
        assert patched.status_code == 200
        assert patched.json()["data"]["event_types"] == ["orders.paid"]
        assert patched.json()["data"]["active"] is False
        deleted = await client.delete(
            f"{BASE}/subscriptions/{created['id']}", headers=admin.headers
        )
        assert deleted.status_code == 200
        gone = await client.get(f"{BASE}/subscriptions/{created['id']}", headers=admin.headers)
        assert gone.status_code == 404


class TestDelivery:
    async def test_signed_delivery_reaches_local_server(
        self, client: AsyncClient, db: Database, receiver: Receiver
    ) -> None:
        admin = await _admin(db)
        assert admin.tenant is not None
        sub = await _subscribe(client, admin, receiver.url, ["orders.*"])
        event_id = await _emit(db, admin.tenant.id)
        await _emit(db, admin.tenant.id, "users.joined")  # not subscribed
        await run_pending(db)

        assert len(receiver.requests) == 1
        got = receiver.requests[0]
        assert signing.verify(sub["secret"], got.headers["ludus-signature"], got.body)
        assert not signing.verify("whsec_wrong", got.headers["ludus-signature"], got.body)
        assert not signing.verify(sub["secret"], got.headers["ludus-signature"], got.body + b" ")
        payload = orjson.loads(got.body)
        assert payload["event_id"] == str(event_id)
        assert payload["event_type"] == "orders.paid"
        assert payload["tenant_id"] == str(admin.tenant.id)
        assert payload["data"] == {"amount": 1250}
        assert set(payload["metadata"]) == {"correlation_id", "trace_id"}
        assert got.headers["ludus-event-id"] == str(event_id)

        log = await client.get(
            f"{BASE}/deliveries", params={"subscription_id": sub["id"]}, headers=admin.headers
        )
        items = log.json()["data"]["items"]
        assert [(d["status"], d["attempts"], d["last_status_code"]) for d in items] == [
            ("succeeded", 1, 200)
        ]

    async def test_retry_on_500_then_success(
        self, client: AsyncClient, db: Database, receiver: Receiver
    ) -> None:
        admin = await _admin(db)
        assert admin.tenant is not None
        sub = await _subscribe(client, admin, receiver.url, ["orders.paid"])
        receiver.statuses = [500, 500]
        await _emit(db, admin.tenant.id)
        await run_pending(db)
        assert len(receiver.requests) == 3
        bodies = {r.body for r in receiver.requests}
        assert len(bodies) == 1  # the same event each time
        for r in receiver.requests:
            assert signing.verify(sub["secret"], r.headers["ludus-signature"], r.body)
        listed = await client.get(f"{BASE}/deliveries", headers=admin.headers)
        delivery = listed.json()["data"]["items"][0]
        detail = await client.get(f"{BASE}/deliveries/{delivery['id']}", headers=admin.headers)
        body = detail.json()["data"]
        assert body["status"] == "succeeded"
        assert [a["status_code"] for a in body["log"]] == [500, 500, 200]
        assert [a["attempt"] for a in body["log"]] == [1, 2, 3]
        assert all(a["latency_ms"] >= 0 for a in body["log"])
        assert "HTTP 500" in body["log"][0]["error"]

    async def test_gives_up_after_max_tries_and_can_be_retried(
        self, client: AsyncClient, db: Database, receiver: Receiver
    ) -> None:
        admin = await _admin(db)
        assert admin.tenant is not None
        await _subscribe(client, admin, receiver.url, ["*"])
        receiver.statuses = [500] * 6
        await _emit(db, admin.tenant.id)
        await run_pending(db)
        assert len(receiver.requests) == 6
        listed = await client.get(
            f"{BASE}/deliveries", params={"status": "failed"}, headers=admin.headers
        )
        delivery = listed.json()["data"]["items"][0]
        assert delivery["attempts"] == 6
        retried = await client.post(
            f"{BASE}/deliveries/{delivery['id']}/retry", headers=admin.headers
        )
        assert retried.status_code == 200 and retried.json()["data"]["status"] == "pending"
        await run_pending(db)
        assert len(receiver.requests) == 7
        again = await client.post(
            f"{BASE}/deliveries/{delivery['id']}/retry", headers=admin.headers
        )
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "DELIVERY_NOT_FAILED"

    async def test_unreachable_endpoint_is_logged(self, client: AsyncClient, db: Database) -> None:
        admin = await _admin(db)
        assert admin.tenant is not None
        dead = Receiver()
        dead.close()  # nothing listens on this port any more
        await _subscribe(client, admin, dead.url, ["*"])
        await _emit(db, admin.tenant.id)
        await run_pending(db)
        async with db.session(tenant_id=admin.tenant.id) as s:
            row = (
                await s.execute(select(Delivery).where(Delivery.tenant_id == admin.tenant.id))
            ).scalar_one()
        assert row.status == "failed" and row.last_status_code is None
        assert row.last_error and "Connect" in row.last_error

    async def test_platform_events_and_inactive_subscriptions_are_not_sent(
        self, client: AsyncClient, db: Database, receiver: Receiver
    ) -> None:
        admin = await _admin(db)
        assert admin.tenant is not None
        sub = await _subscribe(client, admin, receiver.url, ["*"])
        await client.patch(
            f"{BASE}/subscriptions/{sub['id']}", json={"active": False}, headers=admin.headers
        )
        await _emit(db, admin.tenant.id)
        await run_pending(db)
        assert receiver.requests == []
        async with db.session(tenant_id=admin.tenant.id) as s:
            count = await s.scalar(
                select(func.count()).where(Delivery.tenant_id == admin.tenant.id)
            )
        assert count == 0


class TestFanOutGuard:
    async def test_no_fan_out_job_without_subscriptions(self, db: Database) -> None:
        tenant = await make_tenant(db)
        event_id = await _emit(db, tenant.id)
        async with db.session(system=True) as s:
            handlers = (
                (
                    await s.execute(
                        text(
                            "SELECT args->>'handler' FROM procrastinate_jobs"
                            " WHERE args->>'event_id' = :e"
                        ),
                        {"e": str(event_id)},
                    )
                )
                .scalars()
                .all()
            )
        assert "webhooks.fan_out" not in handlers


class TestSigning:
    def test_stale_timestamp_is_refused(self) -> None:
        header = signing.signature_header("s3cret", b"{}", timestamp=1_000_000)
        assert signing.verify("s3cret", header, b"{}", now=1_000_100)
        assert not signing.verify("s3cret", header, b"{}", now=1_000_000 + 301)
        assert not signing.verify("s3cret", "garbage", b"{}")
