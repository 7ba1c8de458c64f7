from __future__ import annotations

import uuid

from httpx import AsyncClient

from ludus.core.kit import clock
from ludus.paya import adapters
from ludus.paya.adapters.base import TransferStatus
from ludus.paya.adapters.sandbox import SandboxDwolla
from ludus.paya.tasks import process_due
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


async def load(client: AsyncClient, actor, amount: int):  # type: ignore[no-untyped-def]
    return await client.post(
        "/api/v1/paya/loads",
        json={"amount": amount},
        headers={**actor.headers, "Idempotency-Key": uuid.uuid4().hex},
    )


async def redeem(client: AsyncClient, actor, amount: int):  # type: ignore[no-untyped-def]
    return await client.post(
        "/api/v1/paya/redeems",
        json={"amount": amount},
        headers={**actor.headers, "Idempotency-Key": uuid.uuid4().hex},
    )


async def me(client: AsyncClient, actor) -> dict:  # type: ignore[no-untyped-def]
    return (await client.get("/api/v1/paya/me", headers=actor.headers)).json()["data"]


class TestLoad:
    async def test_pending_until_settled_then_spendable(self, client: AsyncClient, db) -> None:
        adapters.use(dwolla=SandboxDwolla(settle_seconds=300))
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_m")
        await link_bank(client, alice)
        resp = await load(client, alice, 40)
        assert resp.status_code == 202 and resp.json()["data"]["status"] == "queued"
        movement = resp.json()["data"]["id"]
        assert await settle(db, movement, rounds=2) == "pending"
        state = await me(client, alice)
        assert (state["balance"], state["pending"]) == (0, 40)
        clock.advance(301)
        assert await settle(db, movement, rounds=1) == "settled"
        state = await me(client, alice)
        assert (state["balance"], state["pending"]) == (40, 0)

    async def test_a_return_voids_the_hold(self, client: AsyncClient, db, sandbox) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_ret")
        await link_bank(client, alice)
        sandbox.dwolla.script(TransferStatus.returned)
        resp = await load(client, alice, 25)
        assert await settle(db, resp.json()["data"]["id"]) == "returned"
        state = await me(client, alice)
        assert (state["balance"], state["pending"]) == (0, 0)

    async def test_new_account_load_caps(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, {"limits": {"max_load_per_week": 150}})
        newbie = await member(db, client, tenant, "newbie_m", age_days=0)
        await link_bank(client, newbie)
        over = await load(client, newbie, 101)
        assert over.json()["error"]["details"]["limit"] == "first_week_max_load"
        assert (await load(client, newbie, 100)).status_code == 202
        veteran = await member(db, client, tenant, "vet_m", age_days=60)
        await link_bank(client, veteran)
        assert (await load(client, veteran, 150)).status_code == 202
        weekly = await load(client, veteran, 1)
        assert weekly.json()["error"]["details"]["limit"] == "max_load_per_week"

    async def test_load_needs_a_linked_bank(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "nobank_m")
        resp = await load(client, alice, 5)
        assert (resp.status_code, resp.json()["error"]["code"]) == (409, "BANK_LINK_REQUIRED")


class TestRedeem:
    async def test_burns_at_push_and_settles(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_rd")
        await fund(db, client, alice, 30)
        resp = await redeem(client, alice, 12)
        assert resp.status_code == 202
        assert await balance(client, alice) == 18  # locked at once, not spendable
        assert await settle(db, resp.json()["data"]["id"]) == "settled"
        assert await balance(client, alice) == 18

    async def test_a_failed_push_restores_the_tokens(
        self, client: AsyncClient, db, sandbox
    ) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_rf")
        await fund(db, client, alice, 30)
        sandbox.dwolla.script(TransferStatus.failed)
        resp = await redeem(client, alice, 12)
        assert await settle(db, resp.json()["data"]["id"]) == "failed"
        assert await balance(client, alice) == 30

    async def test_no_redeem_in_the_first_14_days_and_no_overdraw(
        self, client: AsyncClient, db
    ) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        young = await member(db, client, tenant, "young_rd", age_days=10)
        await fund(db, client, young, 30)
        early = await redeem(client, young, 5)
        assert (early.status_code, early.json()["error"]["code"]) == (403, "REDEEM_NOT_YET_ALLOWED")
        old = await member(db, client, tenant, "old_rd", age_days=20)
        await fund(db, client, old, 5)
        too_much = await redeem(client, old, 6)
        assert too_much.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
        assert await balance(client, old) == 5


class TestDwollaOutage:
    async def test_p2p_works_loads_queue_and_settle_after_recovery(
        self, client: AsyncClient, db
    ) -> None:
        dwolla = SandboxDwolla(settle_seconds=0)
        providers = adapters.use(dwolla=dwolla)
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_o")
        bob = await member(db, client, tenant, "bob_o")
        await fund(db, client, alice, 20)
        dwolla.down = True
        resp = await load(client, alice, 15)
        assert resp.status_code == 202
        movement = resp.json()["data"]["id"]
        for _ in range(4):  # the job retries; the breaker opens after three failures
            clock.advance(600)
            await process_due(db, tenant_id=tenant.id)
        assert providers.dwolla_breaker.state == "open"
        movements = (await client.get("/api/v1/paya/movements", headers=alice.headers)).json()
        queued = next(m for m in movements["data"]["items"] if m["id"] == movement)
        assert queued["status"] == "queued" and queued["attempts"] >= 3
        assert (await send(client, alice, "bob_o", 7)).status_code == 201  # P2P unaffected
        assert (await me(client, alice))["pending"] == 15
        dwolla.down = False
        providers.dwolla_breaker.reset_seconds = 0  # let the half-open trial through now
        clock.advance(600)
        await process_due(db, tenant_id=tenant.id)  # starts the ACH pull
        clock.advance(60)
        await process_due(db, tenant_id=tenant.id)  # finds it settled
        assert providers.dwolla_breaker.state == "closed"
        state = await me(client, alice)
        assert (state["balance"], state["pending"]) == (13 + 15, 0)
        assert await balance(client, bob) == 7

    async def test_plaid_down_refuses_linking_with_503(
        self, client: AsyncClient, db, sandbox
    ) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_p")
        sandbox.plaid.down = True
        resp = await client.post("/api/v1/paya/bank/link-token", headers=alice.headers)
        assert (resp.status_code, resp.json()["error"]["code"]) == (503, "PROVIDER_UNAVAILABLE")
