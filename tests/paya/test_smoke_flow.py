from __future__ import annotations

from httpx import AsyncClient

from tests.paya.helpers import OPEN_LIMITS, balance, fund, member, paya_tenant, send


class TestHappyPath:
    async def test_sign_up_fund_and_send(self, client: AsyncClient, db) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "Alice")
        bob = await member(db, client, tenant, "bob")
        await fund(db, client, alice, 50)
        assert await balance(client, alice) == 50
        resp = await send(client, alice, "@BOB", 20, memo="pizza")
        assert resp.status_code == 201, resp.text
        assert resp.json()["data"]["recipient"] == "bob"
        assert await balance(client, alice) == 30
        assert await balance(client, bob) == 20
