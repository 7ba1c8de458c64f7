"""Inbound webhooks: verification per provider, nothing recorded when it fails, de-duplication,
processing in a job, retries and replay."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections import Counter
from urllib.parse import urlencode

import orjson
from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from twilio.request_validator import RequestValidator

from ludus.core.auth.models import Role
from ludus.core.jobs.runner import run_pending
from ludus.core.kit.db import Database
from ludus.core.kit.settings import get_settings
from ludus.core.tenancy.models import Tenant
from ludus.core.webhooks.models import InboundStatus, InboundWebhook
from ludus.core.webhooks.providers import (
    Provider,
    hmac_sha256_verifier,
    processor,
    register_provider,
)
from tests.factories import Actor, make_actor, make_tenant

SECRET = "s3cret-value-123"
processed: Counter[str] = Counter()
failing: set[str] = set()

register_provider(
    Provider(
        "testhmac",
        hmac_sha256_verifier("x-test-signature"),
        lambda r: r.json().get("id"),
        lambda r: r.json().get("type"),
    )
)


@processor("testhmac")
async def process_test(session: AsyncSession, webhook: InboundWebhook) -> None:
    processed[webhook.provider_event_id] += 1
    if webhook.provider_event_id in failing:
        raise RuntimeError("processor down")


async def _setup(client: AsyncClient, db: Database, provider: str, **options: object) -> Actor:
    tenant = await make_tenant(db)
    admin = await make_actor(db, tenant, Role.tenant_admin)
    resp = await client.put(
        f"/api/v1/partner/webhooks/providers/{provider}",
        json={"secret": SECRET, "options": options},
        headers=admin.headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["callback_url"].endswith(f"/webhooks/{provider}/{tenant.slug}")
    assert "secret" not in resp.json()["data"]
    return admin


def _tenant(admin: Actor) -> Tenant:
    assert admin.tenant is not None
    return admin.tenant


async def _stored(db: Database, tenant_id: uuid.UUID) -> list[InboundWebhook]:
    async with db.session(tenant_id=tenant_id) as s:
        rows = await s.execute(select(InboundWebhook).where(InboundWebhook.tenant_id == tenant_id))
        return list(rows.scalars())


def _hmac(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


class TestHmacProvider:
    async def test_bad_signature_is_401_and_nothing_recorded(
        self, client: AsyncClient, db: Database
    ) -> None:
        admin = await _setup(client, db, "testhmac")
        body = orjson.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": "x"})
        url = f"/api/v1/webhooks/testhmac/{_tenant(admin).slug}"
        for headers in ({"x-test-signature": "0" * 64}, {}):
            resp = await client.post(url, content=body, headers=headers)
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "INVALID_SIGNATURE"
        assert await _stored(db, _tenant(admin).id) == []
        await run_pending(db)
        assert processed[orjson.loads(body)["id"]] == 0

    async def test_duplicate_is_processed_once(self, client: AsyncClient, db: Database) -> None:
        admin = await _setup(client, db, "testhmac")
        event_id = f"evt_{uuid.uuid4().hex}"
        body = orjson.dumps({"id": event_id, "type": "payment.succeeded"})
        url = f"/api/v1/webhooks/testhmac/{_tenant(admin).slug}"
        first = await client.post(url, content=body, headers={"x-test-signature": _hmac(body)})
        assert first.status_code == 200, first.text
        assert first.json()["data"]["duplicate"] is False
        second = await client.post(
            url, content=body, headers={"x-test-signature": "sha256=" + _hmac(body)}
        )
        assert second.status_code == 200
        assert second.json()["data"] == {"id": None, "duplicate": True}
        await run_pending(db)
        assert processed[event_id] == 1
        [row] = await _stored(db, _tenant(admin).id)
        assert row.body == body  # raw body kept byte for byte
        assert row.status == InboundStatus.processed and row.event_type == "payment.succeeded"
        assert row.headers["x-test-signature"] == _hmac(body)

    async def test_failing_processor_retries_then_replay(
        self, client: AsyncClient, db: Database
    ) -> None:
        admin = await _setup(client, db, "testhmac")
        event_id = f"evt_{uuid.uuid4().hex}"
        failing.add(event_id)
        body = orjson.dumps({"id": event_id})
        await client.post(
            f"/api/v1/webhooks/testhmac/{_tenant(admin).slug}",
            content=body,
            headers={"x-test-signature": _hmac(body)},
        )
        await run_pending(db)
        assert processed[event_id] == 5
        [row] = await _stored(db, _tenant(admin).id)
        assert row.status == InboundStatus.failed and row.attempts == 5
        assert "processor down" in (row.last_error or "")

        failing.discard(event_id)
        listed = await client.get(
            "/api/v1/partner/webhooks/inbound", params={"status": "failed"}, headers=admin.headers
        )
        assert [i["provider_event_id"] for i in listed.json()["data"]["items"]] == [event_id]
        replay = await client.post(
            f"/api/v1/partner/webhooks/inbound/{row.id}/replay", headers=admin.headers
        )
        assert replay.status_code == 200
        await run_pending(db)
        assert processed[event_id] == 6
        [row] = await _stored(db, _tenant(admin).id)
        assert row.status == InboundStatus.processed

    async def test_unknown_provider_and_unconfigured_tenant(
        self, client: AsyncClient, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        resp = await client.post(f"/api/v1/webhooks/nope/{tenant.slug}", content=b"{}")
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "UNKNOWN_WEBHOOK_PROVIDER"
        resp = await client.post(f"/api/v1/webhooks/testhmac/{tenant.slug}", content=b"{}")
        assert resp.json()["error"]["code"] == "WEBHOOK_NOT_CONFIGURED"
        resp = await client.post("/api/v1/webhooks/testhmac/no-such-tenant", content=b"{}")
        assert resp.status_code == 404


class TestStripe:
    def _signed(self, payload: bytes, secret: str = SECRET) -> str:
        ts = int(time.time())
        sig = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={ts},v1={sig}"

    async def test_signature_checked_with_stripe_library(
        self, client: AsyncClient, db: Database
    ) -> None:
        admin = await _setup(client, db, "stripe")
        event_id = f"evt_{uuid.uuid4().hex}"
        payload = orjson.dumps({"id": event_id, "object": "event", "type": "charge.succeeded"})
        url = f"/api/v1/webhooks/stripe/{_tenant(admin).slug}"
        bad = await client.post(
            url, content=payload, headers={"stripe-signature": self._signed(payload, "other")}
        )
        assert bad.status_code == 401
        assert await _stored(db, _tenant(admin).id) == []
        good = await client.post(
            url, content=payload, headers={"stripe-signature": self._signed(payload)}
        )
        assert good.status_code == 200, good.text
        [row] = await _stored(db, _tenant(admin).id)
        assert row.provider_event_id == event_id and row.event_type == "charge.succeeded"


class TestTwilio:
    async def test_request_validator(self, client: AsyncClient, db: Database) -> None:
        admin = await _setup(client, db, "twilio")
        path = f"/api/v1/webhooks/twilio/{_tenant(admin).slug}"
        params = {"MessageSid": f"SM{uuid.uuid4().hex}", "MessageStatus": "delivered"}
        public = get_settings().public_base_url.rstrip("/") + path
        signature = RequestValidator(SECRET).compute_signature(public, params)
        form = {"content-type": "application/x-www-form-urlencoded"}
        bad = await client.post(
            path, content=urlencode(params), headers={**form, "x-twilio-signature": "bm9wZQ=="}
        )
        assert bad.status_code == 401
        good = await client.post(
            path, content=urlencode(params), headers={**form, "x-twilio-signature": signature}
        )
        assert good.status_code == 200, good.text
        [row] = await _stored(db, _tenant(admin).id)
        assert row.provider_event_id == f"{params['MessageSid']}:delivered"
        assert row.event_type == "message.delivered"


class TestMpesa:
    def _callback(self) -> tuple[str, bytes]:
        checkout = f"ws_CO_{uuid.uuid4().hex}"
        body = {"Body": {"stkCallback": {"CheckoutRequestID": checkout, "ResultCode": 0}}}
        return checkout, orjson.dumps(body)

    async def test_token_and_allowed_ip(self, client: AsyncClient, db: Database) -> None:
        admin = await _setup(client, db, "mpesa", allowed_ips=["127.0.0.0/8"])
        checkout, body = self._callback()
        url = f"/api/v1/webhooks/mpesa/{_tenant(admin).slug}"
        wrong = await client.post(url, params={"token": "guess"}, content=body)
        assert wrong.status_code == 401
        missing = await client.post(url, content=body)
        assert missing.status_code == 401
        good = await client.post(url, params={"token": SECRET}, content=body)
        assert good.status_code == 200, good.text
        [row] = await _stored(db, _tenant(admin).id)
        assert row.provider_event_id == checkout and row.event_type == "stk_callback"
        assert row.source_ip == "127.0.0.1"

    async def test_source_outside_allow_list_is_refused(
        self, client: AsyncClient, db: Database
    ) -> None:
        admin = await _setup(client, db, "mpesa", allowed_ips=["196.201.214.0/24"])
        _, body = self._callback()
        resp = await client.post(
            f"/api/v1/webhooks/mpesa/{_tenant(admin).slug}", params={"token": SECRET}, content=body
        )
        assert resp.status_code == 401
        async with db.session(system=True) as s:
            count = await s.scalar(
                select(func.count()).where(InboundWebhook.tenant_id == _tenant(admin).id)
            )
        assert count == 0


class TestProviderConfig:
    async def test_secret_is_encrypted_and_options_validated(
        self, client: AsyncClient, db: Database
    ) -> None:
        admin = await _setup(client, db, "generic")
        from ludus.core.webhooks.models import ProviderConfig

        async with db.session(tenant_id=_tenant(admin).id) as s:
            config = (await s.execute(select(ProviderConfig))).scalar_one()
        assert SECRET not in config.secret_enc
        bad = await client.put(
            "/api/v1/partner/webhooks/providers/mpesa",
            json={"secret": SECRET, "options": {"allowed_ips": ["not-an-ip"]}},
            headers=admin.headers,
        )
        assert bad.status_code == 422
        unknown = await client.put(
            "/api/v1/partner/webhooks/providers/nope",
            json={"secret": SECRET},
            headers=admin.headers,
        )
        assert unknown.status_code == 404
