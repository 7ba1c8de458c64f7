"""The send path's cost and shape: statement count, rules with an open flag not re-run, and
hot recipients credited through a sharded incoming account."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from httpx import AsyncClient
from sqlalchemy import func, select

from ludus.core.auth.models import Role
from ludus.core.kit import clock
from ludus.core.ledger import service as ledger
from ludus.core.ledger.models import Posting
from ludus.paya import accounts, p2p, reserve, service
from ludus.paya.rules import CIRCULAR, MONEY_MULE, VELOCITY
from ludus.paya.schemas import TransferCreate
from tests.factories import token_for
from tests.paya.helpers import OPEN_LIMITS, balance, fund, link_bank, member, paya_tenant, send


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement sent through psycopg (SQLAlchemy's and driver-level SQL alike)."""
    seen: list[str] = []
    execute = psycopg.AsyncCursor.execute

    async def record(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        seen.append(str(query))
        return await execute(self, query, params, **kw)

    psycopg.AsyncCursor.execute = record  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        psycopg.AsyncCursor.execute = execute  # type: ignore[method-assign]


async def flags_of(client: AsyncClient, admin: Any) -> set[tuple[str, str]]:
    resp = await client.get("/api/v1/paya/admin/flags?limit=100", headers=admin.headers)
    return {(f["user_id"], f["rule"]) for f in resp.json()["data"]["items"]}


class TestStatements:
    async def test_a_send_is_a_handful_of_statements(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_sq")
        bob = await member(db, client, tenant, "bob_sq")
        await fund(db, client, alice, 10)
        assert (await send(client, alice, "carol_sq", 1)).status_code == 404  # warm caches
        with statements() as seen:
            async with db.session(tenant_id=tenant.id) as s:
                payment = await service.send(
                    s, tenant_id=tenant.id, sender_user_id=alice.user.id,
                    data=TransferCreate(to="@bob_sq", amount=2, memo="", public=False),
                    idempotency_key=uuid.uuid4().hex,
                )  # fmt: skip
        assert payment.recipient_id == bob.user.id
        # the session's BEGIN and tenant context, then the one paya_send call (lock, facts,
        # ledger transfer, insert): the first version took 12 (history reads, flag upserts,
        # a separate NOTIFY), paya_0002 three PaYa statements.
        assert sum("paya_send(" in q for q in seen) == 1, seen
        assert len(seen) <= 2, seen
        assert await balance(client, bob) == 2


class TestOpenFlagsSkipRules:
    async def test_flagged_rules_are_not_read_again(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        admin = await member(db, client, tenant, "boss_of", role=Role.tenant_admin)
        ann = await member(db, client, tenant, "ann_of")
        bo = await member(db, client, tenant, "bo_of")
        await fund(db, client, ann, 20)
        await fund(db, client, bo, 20)
        assert (await send(client, ann, "bo_of", 1)).status_code == 201
        assert (await send(client, bo, "ann_of", 1)).status_code == 201  # straight back
        assert (str(bo.user.id), CIRCULAR) in await flags_of(client, admin)
        for _ in range(4):
            assert (await send(client, ann, "bo_of", 1)).status_code == 201
        assert (str(ann.user.id), VELOCITY) in await flags_of(client, admin)
        config = await _config(db, tenant.id)

        async def facts_of(sender: Any, to: str) -> p2p.SendFacts | None:
            async with db.session(tenant_id=tenant.id) as s:
                result = await p2p.send(
                    s, tenant.id, payment_id=uuid.uuid4(), sender_id=sender.user.id,
                    recipient_key=to, amount=1, memo="", public=True, hot=False,
                    kind=service.P2P_KIND, ledger_key=uuid.uuid4().hex, idempotency_key=None,
                    channel="paya_test", config=config, now=clock.utcnow(),
                )  # fmt: skip
                assert result.outcome == p2p.OK, result
                return result.facts

        facts, reverse = await facts_of(ann, "bo_of"), await facts_of(bo, "ann_of")
        assert facts is not None and reverse is not None
        assert VELOCITY in facts.skip and VELOCITY not in reverse.skip
        assert CIRCULAR in reverse.skip and MONEY_MULE not in facts.skip
        # the velocity read (ann's five payments to bo this hour) was skipped: of them only
        # the latest came back, as the money-mule rule's row for sender ann
        mine = [p for p in facts.recent if p.sender == ann.user.id]
        assert len(mine) == 1, facts.recent
        # ann's own circular rule was still evaluated: bo paid her back within 24 h
        assert (str(ann.user.id), CIRCULAR) in await flags_of(client, admin)


class TestHotRecipient:
    async def test_payments_land_in_a_sharded_account_and_stay_spendable(
        self, client: AsyncClient, db
    ) -> None:
        tenant = await paya_tenant(db, {**OPEN_LIMITS, "hot_recipients": ["@Shop_HR"]})
        shop = await member(db, client, tenant, "shop_hr")
        payers = [await member(db, client, tenant, f"payer{i}_hr") for i in range(6)]
        for payer in payers:
            await fund(db, client, payer, 10)
        sends = [send(client, p, "@shop_hr", 3, public=False) for p in payers for _ in range(2)]
        assert {r.status_code for r in await asyncio.gather(*sends)} == {201}
        assert await balance(client, shop) == 36
        async with db.session(tenant_id=tenant.id) as s:
            profile = await service.require_profile(s, tenant.id, shop.user.id)
            incoming = await accounts.incoming_account(s, tenant.id, shop.user.id)
            assert incoming is not None
            assert await accounts.balance(s, tenant.id, profile.wallet_account_id) == 0
            assert await accounts.balance(s, tenant.id, incoming) == 36
            credits = await s.scalar(
                select(func.count()).select_from(Posting).where(Posting.account_id == incoming)
            )
            assert credits == 12
        # spending more than the (empty) wallet sweeps the incoming tokens into it first
        assert (await send(client, shop, "payer0_hr", 30)).status_code == 201
        await link_bank(client, shop)
        redeem = await client.post(
            "/api/v1/paya/redeems",
            json={"amount": 6},
            headers={**shop.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert redeem.status_code == 202, redeem.text
        assert await balance(client, shop) == 0
        too_much = await send(client, shop, "payer1_hr", 1)
        assert too_much.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
        async with db.session(tenant_id=tenant.id) as s:
            numbers = await reserve.figures(s, tenant.id)
            report = await ledger.verify(s, tenant_id=tenant.id)
        assert report.ok, report.render()
        assert numbers["circulation"] == numbers["reserve"]


async def _config(db: Any, tenant_id: uuid.UUID) -> Any:
    async with db.session(tenant_id=tenant_id) as s:
        return await accounts.rules(s, tenant_id)


class TestMoneyMuleWindow:
    async def test_only_senders_of_the_last_24h_count(self, client: AsyncClient, db) -> None:
        """The rule's read is the recipient's latest payment per sender (paya_pairs)."""
        tenant = await paya_tenant(db, {**OPEN_LIMITS, "fraud": {"mule_unique_senders_24h": 3}})
        admin = await member(db, client, tenant, "boss_mw", role=Role.tenant_admin)
        mule = await member(db, client, tenant, "mule_mw")
        payers = [await member(db, client, tenant, f"p{i}_mw") for i in range(3)]
        for payer in payers:
            await fund(db, client, payer, 10)
        a, b, c = payers

        async def pay(payer: Any) -> None:
            assert (await send(client, payer, "mule_mw", 1)).status_code == 201

        await pay(a)
        await pay(b)
        clock.advance(86401)  # a's and b's payments leave the window
        for actor in (admin, *payers):
            actor.token = await token_for(db, actor.user, actor.tenant, actor.role)
        await pay(c)
        await pay(a)  # a again: a's pair now carries this payment's time
        assert (str(mule.user.id), MONEY_MULE) not in await flags_of(client, admin)
        await pay(b)  # three different senders within 24 h
        assert (str(mule.user.id), MONEY_MULE) in await flags_of(client, admin)
