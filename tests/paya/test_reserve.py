from __future__ import annotations

import hashlib
import hmac
import random
import uuid

import orjson
from httpx import AsyncClient
from sqlalchemy import select

from ludus.core.auth.models import Role
from ludus.core.events.models import OutboxEvent
from ludus.core.jobs.runner import run_pending
from ludus.core.kit import clock
from ludus.core.ledger import service as ledger
from ludus.core.webhooks.inbound import set_config
from ludus.paya import reserve, rewards
from ludus.paya.adapters.base import TransferStatus
from ludus.paya.models import Movement
from tests.paya.helpers import (
    OPEN_LIMITS,
    balance,
    fund,
    link_bank,
    member,
    paya_tenant,
    send,
    settle,
)


async def backing(db, tenant_id):  # type: ignore[no-untyped-def]
    async with db.session(tenant_id=tenant_id) as s:
        numbers = await reserve.figures(s, tenant_id)
        report = await ledger.verify(s, tenant_id=tenant_id)
        snapshot = await reserve.reconcile(s, tenant_id)
    return numbers, report, snapshot


class TestFullBacking:
    async def test_randomized_day_keeps_circulation_equal_to_reserve(
        self, client: AsyncClient, db, sandbox
    ) -> None:
        rng = random.Random(20261123)
        tenant = await paya_tenant(db, OPEN_LIMITS)
        users = [
            await member(db, client, tenant, f"day{i}", age_days=rng.choice([0, 3, 30, 90]))
            for i in range(10)
        ]
        names = [f"day{i}" for i in range(10)]
        for actor in users:
            await link_bank(client, actor)
        returned = failed = 0
        for _ in range(16):  # loads, about one in four returned by the bank
            actor = rng.choice(users)
            outcome = TransferStatus.returned if rng.random() < 0.25 else TransferStatus.processed
            resp = await client.post(
                "/api/v1/paya/loads",
                json={"amount": rng.randint(5, 80)},
                headers={**actor.headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert resp.status_code == 202, resp.text
            sandbox.dwolla.script(outcome)
            status = await settle(db, resp.json()["data"]["id"])
            returned += status == "returned"
        sent = 0
        for _ in range(60):  # transfers, some refused for lack of funds
            i, j = rng.sample(range(10), 2)
            resp = await send(
                client, users[i], names[j], rng.randint(1, 30), public=rng.random() < 0.7
            )
            assert resp.status_code in (201, 409), resp.text
            sent += resp.status_code == 201
        accepted = 0
        for i in rng.sample(range(10), 6):  # redeems, every other one failing
            resp = await client.post(
                "/api/v1/paya/redeems",
                json={"amount": rng.randint(1, 10)},
                headers={**users[i].headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            if resp.status_code != 202:
                assert resp.json()["error"]["code"] in (
                    "INSUFFICIENT_FUNDS",
                    "REDEEM_NOT_YET_ALLOWED",
                )
                continue
            outcome = TransferStatus.failed if accepted % 2 == 0 else TransferStatus.processed
            accepted += 1
            sandbox.dwolla.script(outcome)
            failed += await settle(db, resp.json()["data"]["id"]) == "failed"
        week = rewards.week_start(clock.utcnow().date())
        async with db.session(tenant_id=tenant.id) as s:
            await reserve.record_revenue(
                s,
                tenant.id,
                amount=rng.randint(50, 500),
                source="interest",
                week=week,
                key="rev",
                actor_user_id=None,
            )
        clock.advance(8 * 86400)
        await rewards.run_week(db, tenant.id, week)
        numbers, report, snapshot = await backing(db, tenant.id)
        assert sent > 20 and returned > 0 and failed > 0  # the scenario exercised every path
        assert numbers["circulation"] == numbers["reserve"] == numbers["bank_balance"] > 0
        assert report.ok, str(report)
        assert snapshot.matched is True


class TestReconciliationAlert:
    async def test_return_after_spending_freezes_and_alerts(
        self, client: AsyncClient, db, sandbox
    ) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        admin = await member(db, client, tenant, "boss_rc", role=Role.tenant_admin)
        alice = await member(db, client, tenant, "alice_rc")
        await member(db, client, tenant, "bob_rc")
        await fund(db, client, alice, 40)
        assert (await send(client, alice, "bob_rc", 35)).status_code == 201
        async with db.session(system=True) as s:
            movement = (
                await s.execute(select(Movement).where(Movement.tenant_id == tenant.id))
            ).scalar_one()
            await set_config(s, tenant.id, "dwolla", secret="whsec", options={})
        # the bank returns the pull after it settled: Dwolla now reports it returned
        original = sandbox.dwolla.get_transfer_status

        async def now_returned(transfer_id: str) -> TransferStatus:
            return (
                TransferStatus.returned
                if transfer_id == movement.provider_transfer_id
                else await original(transfer_id)
            )

        sandbox.dwolla.get_transfer_status = now_returned  # the bank changes its answer
        body = orjson.dumps(
            {
                "id": "evt-1",
                "topic": "customer_bank_transfer_failed",
                "resourceId": movement.provider_transfer_id,
            }
        )
        signature = hmac.new(b"whsec", body, hashlib.sha256).hexdigest()
        resp = await client.post(
            f"/api/v1/webhooks/dwolla/{tenant.slug}",
            content=body,
            headers={"X-Request-Signature-SHA-256": signature, "Content-Type": "application/json"},
        )
        assert resp.status_code < 300, resp.text
        await run_pending(db, queues=["webhooks"])
        state = await client.get("/api/v1/paya/admin/accounts/alice_rc", headers=admin.headers)
        data = state.json()["data"]
        assert data["profile"]["status"] == "frozen"
        assert [f["rule"] for f in data["flags"]] == ["ach_return_unrecovered"]
        numbers, report, snapshot = await backing(db, tenant.id)
        assert report.ok  # the ledger itself is consistent ...
        assert numbers["bank_balance"] == numbers["reserve"] - 40  # ... but the bank is short
        assert snapshot.matched is False
        async with db.session(system=True) as s:
            alerts = (
                (
                    await s.execute(
                        select(OutboxEvent.event_type).where(
                            OutboxEvent.tenant_id == tenant.id,
                            OutboxEvent.event_type == "paya.reserve.mismatch",
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert alerts == ["paya.reserve.mismatch"]
        assert await balance(client, alice) == 5


class TestTransparency:
    async def test_public_figures(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        admin = await member(db, client, tenant, "boss_tp", role=Role.tenant_admin)
        alice = await member(db, client, tenant, "alice_tp")
        await fund(db, client, alice, 60)
        resp = await client.post(
            "/api/v1/paya/admin/revenue",
            json={"amount": 15, "source": "interest"},
            headers={**admin.headers, "Idempotency-Key": "rev-1"},
        )
        assert resp.status_code == 201, resp.text
        await client.post("/api/v1/paya/admin/reconcile", headers=admin.headers)
        page = await client.get("/api/v1/paya/transparency", headers={"X-Tenant": tenant.slug})
        assert page.status_code == 200
        data = page.json()["data"]
        assert (data["reserve"], data["circulation"], data["backing_ratio"]) == (75, 75, "1.0000")
        assert [w["amount"] for w in data["weekly_revenue"]] == [15]
        assert data["snapshots"][0]["matched"] is True
