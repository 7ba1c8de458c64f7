"""The send path's cost and shape: statement count, rules with an open flag not re-run, and
hot recipients credited through a sharded incoming account."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from httpx import AsyncClient
from sqlalchemy import event, func, select

from ludus.core.auth.models import Role
from ludus.core.kit import clock
from ludus.core.ledger import service as ledger
from ludus.core.ledger.models import Posting
from ludus.paya import accounts, p2p, reserve, service
from ludus.paya.rules import CIRCULAR, MONEY_MULE, VELOCITY
from ludus.paya.schemas import TransferCreate
from tests.paya.helpers import OPEN_LIMITS, balance, fund, link_bank, member, paya_tenant, send


@contextmanager
def statements(db: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


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
        with statements(db) as seen:
            async with db.session(tenant_id=tenant.id) as s:
                payment = await service.send(
                    s, tenant_id=tenant.id, sender_user_id=alice.user.id,
                    data=TransferCreate(to="@bob_sq", amount=2, memo="", public=False),
                    idempotency_key=uuid.uuid4().hex,
                )  # fmt: skip
        assert payment.recipient_id == bob.user.id
        # tenant context, lock and facts, ledger call (savepoint, call, release), insert:
        # the first version took 12 (history reads, flag upserts, a separate NOTIFY).
        assert len(seen) <= 6, seen
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
        async with db.session(tenant_id=tenant.id) as s:
            _, _, facts = await p2p.lock_and_read(
                await s.connection(), tenant.id, sender_id=ann.user.id, recipient_key="bo_of",
                public=True, config=config, now=clock.utcnow(),
            )  # fmt: skip
            _, _, reverse = await p2p.lock_and_read(
                await s.connection(), tenant.id, sender_id=bo.user.id, recipient_key="ann_of",
                public=True, config=config, now=clock.utcnow(),
            )  # fmt: skip
        assert facts is not None and reverse is not None
        assert VELOCITY in facts.skip and VELOCITY not in reverse.skip
        assert CIRCULAR in reverse.skip and MONEY_MULE not in facts.skip
        assert (facts.sends_day, facts.paid_recipient_today) == (5, True)
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
