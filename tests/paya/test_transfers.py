from __future__ import annotations

import asyncio
import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select

from ludus.core.auth.models import Role
from ludus.core.kit import clock
from ludus.paya.models import Payment, Profile
from tests.factories import Actor, token_for
from tests.paya.helpers import OPEN_LIMITS, balance, fund, member, paya_tenant, send


def code(resp) -> str:  # type: ignore[no-untyped-def]
    return str(resp.json()["error"]["code"])


class TestSend:
    async def test_refusals_change_nothing(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_r")
        await member(db, client, tenant, "bob_r")
        await fund(db, client, alice, 10)
        cases = [
            (("@bob_r", 11), 409, "INSUFFICIENT_FUNDS"),
            (("@nobody_here", 1), 404, "RECIPIENT_NOT_FOUND"),
            (("@alice_r", 1), 422, "SELF_TRANSFER"),
            (("@bob_r", 0), 422, "VALIDATION_ERROR"),
        ]
        for (to, amount), status, expected in cases:
            resp = await send(client, alice, to, amount)
            assert (resp.status_code, code(resp)) == (status, expected), resp.text
        assert await balance(client, alice) == 10

    async def test_frozen_accounts_are_refused(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        admin = await member(db, client, tenant, "boss_f", role=Role.tenant_admin)
        alice = await member(db, client, tenant, "alice_f")
        bob = await member(db, client, tenant, "bob_f")
        await fund(db, client, alice, 10)
        resp = await client.post(
            "/api/v1/paya/admin/accounts/bob_f/freeze",
            json={"reason": "review"},
            headers=admin.headers,
        )
        assert resp.status_code == 200, resp.text
        to_frozen = await send(client, alice, "bob_f", 1)
        assert (to_frozen.status_code, code(to_frozen)) == (409, "ACCOUNT_FROZEN")
        from_frozen = await send(client, bob, "alice_f", 1)
        assert (from_frozen.status_code, code(from_frozen)) == (409, "ACCOUNT_FROZEN")
        await client.post(
            "/api/v1/paya/admin/accounts/bob_f/unfreeze",
            json={"reason": "cleared"},
            headers=admin.headers,
        )
        assert (await send(client, alice, "bob_f", 1)).status_code == 201

    async def test_limits_from_tenant_config(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(
            db,
            {
                "limits": {"max_transfer": 50, "sends_per_hour": 3, "unique_recipients_per_day": 2},
                "new_account": {"cooling_daily_send_limit": 20, "first_week_max_load": 1000},
            },
        )
        alice = await member(db, client, tenant, "alice_l")
        for name in ("bob_l", "cat_l", "dan_l"):
            await member(db, client, tenant, name)
        await fund(db, client, alice, 200)
        over = await send(client, alice, "bob_l", 51)
        assert code(over) == "TRANSFER_LIMIT_EXCEEDED"
        assert over.json()["error"]["details"]["limit"] == "max_transfer"
        assert (await send(client, alice, "bob_l", 1)).status_code == 201
        assert (await send(client, alice, "cat_l", 1)).status_code == 201
        third = await send(client, alice, "dan_l", 1)
        assert third.json()["error"]["details"]["limit"] == "unique_recipients_per_day"
        assert (await send(client, alice, "bob_l", 1)).status_code == 201
        fourth = await send(client, alice, "bob_l", 1)
        assert fourth.json()["error"]["details"]["limit"] == "sends_per_hour"
        newbie = await member(db, client, tenant, "newbie_l", age_days=0)
        await fund(db, client, newbie, 100)
        cooling = await send(client, newbie, "bob_l", 21)
        assert cooling.json()["error"]["details"]["limit"] == "cooling_period_daily_send"
        assert (await send(client, newbie, "bob_l", 20)).status_code == 201

    async def test_replay_with_the_same_key_pays_once(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_i")
        bob = await member(db, client, tenant, "bob_i")
        await fund(db, client, alice, 10)
        first = await send(client, alice, "bob_i", 4, key="same-key")
        again = await send(client, alice, "bob_i", 4, key="same-key")
        assert first.status_code == again.status_code == 201
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json()["data"]["id"] == first.json()["data"]["id"]
        other = await send(client, alice, "bob_i", 5, key="same-key")
        assert (other.status_code, code(other)) == (409, "IDEMPOTENCY_KEY_REUSED")
        assert (await balance(client, alice), await balance(client, bob)) == (6, 4)


class TestConcurrentSends:
    async def test_sixty_concurrent_sends_with_funds_for_thirty(
        self, client: AsyncClient, db
    ) -> None:
        """Sized down from 200/100 (bench/paya.py runs the full size over HTTP)."""
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_c")
        bob = await member(db, client, tenant, "bob_c")
        await fund(db, client, alice, 30)
        keys = [uuid.uuid4().hex for _ in range(60)]
        results = await asyncio.gather(*(send(client, alice, "bob_c", 1, key=k) for k in keys))
        statuses = sorted(r.status_code for r in results)
        assert statuses.count(201) == 30
        assert all(code(r) == "INSUFFICIENT_FUNDS" for r in results if r.status_code != 201)
        replays = await asyncio.gather(*(send(client, alice, "bob_c", 1, key=k) for k in keys))
        assert sum(r.status_code == 201 for r in replays) == 30
        assert (await balance(client, alice), await balance(client, bob)) == (0, 30)
        async with db.session(system=True) as s:
            count = await s.scalar(
                select(func.count()).select_from(Payment).where(Payment.tenant_id == tenant.id)
            )
        assert count == 30

    async def test_concurrent_sends_cannot_slip_past_a_count_limit(
        self, client: AsyncClient, db
    ) -> None:
        """Each send reads its limits after it holds the sender's lock, so it sees every
        send that committed while it waited (paya_send)."""
        limits = {**OPEN_LIMITS["limits"], "sends_per_hour": 4}
        tenant = await paya_tenant(db, {**OPEN_LIMITS, "limits": limits})
        alice = await member(db, client, tenant, "alice_l")
        await member(db, client, tenant, "bob_l")
        await fund(db, client, alice, 20)
        results = await asyncio.gather(*(send(client, alice, "bob_l", 1) for _ in range(12)))
        assert sum(r.status_code == 201 for r in results) == 4
        refused = [r.json()["error"] for r in results if r.status_code != 201]
        assert {(e["code"], e["details"]["limit"]) for e in refused} == {
            ("TRANSFER_LIMIT_EXCEEDED", "sends_per_hour")
        }
        assert await balance(client, alice) == 16


async def later(db: Any, seconds: float, *actors: Actor) -> None:
    """Move the clock on; the actors get fresh access tokens (theirs expire after an hour)."""
    clock.advance(seconds)
    for actor in actors:
        actor.token = await token_for(db, actor.user, actor.tenant, actor.role)


class TestRollingWindows:
    """The limits are exact rolling windows, read from the send counters (paya_0004)."""

    async def test_counts_and_recipients_leave_the_window(self, client: AsyncClient, db) -> None:
        limits = {**OPEN_LIMITS["limits"], "sends_per_hour": 2, "sends_per_day": 3}
        limits["unique_recipients_per_day"] = 2
        tenant = await paya_tenant(db, {**OPEN_LIMITS, "limits": limits})
        alice = await member(db, client, tenant, "alice_w")
        for name in ("bob_w", "cat_w", "dan_w"):
            await member(db, client, tenant, name)
        await fund(db, client, alice, 100)

        def limit(resp) -> str:  # type: ignore[no-untyped-def]
            assert code(resp) == "TRANSFER_LIMIT_EXCEEDED", resp.text
            return str(resp.json()["error"]["details"]["limit"])

        assert (await send(client, alice, "bob_w", 1)).status_code == 201  # t0
        assert (await send(client, alice, "cat_w", 1)).status_code == 201  # t0
        assert limit(await send(client, alice, "bob_w", 1)) == "sends_per_hour"
        await later(db, 3601, alice)
        assert (await send(client, alice, "bob_w", 1)).status_code == 201  # t0 + 1 h
        assert limit(await send(client, alice, "bob_w", 1)) == "sends_per_day"
        await later(db, 86400 - 3600, alice)  # the two t0 sends are just out of the day's window
        assert (await send(client, alice, "dan_w", 1)).status_code == 201
        # bob (paid an hour after t0) and dan count; cat was paid at t0, so cat is new again
        assert limit(await send(client, alice, "cat_w", 1)) == "unique_recipients_per_day"
        assert (await send(client, alice, "bob_w", 1)).status_code == 201  # already paid today
        assert limit(await send(client, alice, "dan_w", 1)) == "sends_per_hour"
        assert await balance(client, alice) == 95

    async def test_cooling_amount_is_a_rolling_sum(self, client: AsyncClient, db) -> None:
        new_account = {**OPEN_LIMITS["new_account"], "cooling_daily_send_limit": 10}
        tenant = await paya_tenant(db, {**OPEN_LIMITS, "new_account": new_account})
        newbie = await member(db, client, tenant, "newbie_w", age_days=0)
        await member(db, client, tenant, "bob_w")
        await fund(db, client, newbie, 100)
        assert (await send(client, newbie, "bob_w", 6)).status_code == 201
        await later(db, 3600, newbie)
        assert (await send(client, newbie, "bob_w", 4)).status_code == 201
        refused = await send(client, newbie, "bob_w", 1)
        assert refused.json()["error"]["details"]["limit"] == "cooling_period_daily_send"
        await later(db, 86400 - 3600 + 1, newbie)  # the 6 left the window, the 4 did not
        assert (await send(client, newbie, "bob_w", 7)).status_code == 422  # 4 + 7 > 10
        assert (await send(client, newbie, "bob_w", 6)).status_code == 201
        assert (await send(client, newbie, "bob_w", 1)).status_code == 422
        async with db.session(system=True) as s:
            rows = (
                await s.execute(
                    select(Payment.sender_seq, Payment.sender_cum)
                    .where(Payment.tenant_id == tenant.id)
                    .order_by(Payment.sender_seq)
                )
            ).all()
            profile = await s.scalar(select(Profile).where(Profile.user_id == newbie.user.id))
        assert [tuple(r) for r in rows] == [(1, 6), (2, 10), (3, 16)]
        assert profile is not None and (profile.sent_count, profile.sent_amount) == (3, 16)
