from __future__ import annotations

import uuid

from httpx import AsyncClient

from ludus.core.auth.models import Role
from ludus.core.ledger import service as ledger
from tests.core.ledger.helpers import build_world
from tests.factories import make_actor, make_tenant


async def setup(db):
    tenant = await make_tenant(db)
    async with db.session(tenant_id=tenant.id) as s:
        world = await build_world(s, tenant.id)
        for n in range(3):
            await ledger.move(
                s,
                tenant_id=tenant.id,
                idempotency_key=f"m{n}",
                kind="p2p",
                from_account=world.wallets[0],
                to_account=world.wallets[1],
                amount=100,
            )
    admin = await make_actor(db, tenant, Role.tenant_admin)
    return tenant, world, admin


class TestLedgerApi:
    async def test_balance_statement_and_supply(self, client: AsyncClient, db) -> None:
        _, world, admin = await setup(db)
        a = world.wallets[0]
        resp = await client.get(f"/api/v1/ledger/accounts/{a}/balance", headers=admin.headers)
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"] | {"as_of": None} == {
            "account_id": str(a),
            "asset": "USD",
            "posted": 9_700,
            "pending_out": 0,
            "available": 9_700,
            "as_of": None,
        }
        resp = await client.get(
            f"/api/v1/ledger/accounts/{a}/statement?page=1&limit=2", headers=admin.headers
        )
        body = resp.json()
        assert resp.status_code == 200
        assert body["pagination"] == {"page": 1, "limit": 2, "total": 4, "has_more": True}
        assert [line["amount"] for line in body["data"]["items"]] == [-100, -100]
        assert body["data"]["items"][0]["balance_after"] == 9_700
        resp = await client.get("/api/v1/ledger/supply/USD", headers=admin.headers)
        assert resp.json()["data"] == {"asset": "USD", "total_supply": 30_000}

    async def test_balance_as_of(self, client: AsyncClient, db) -> None:
        _, world, admin = await setup(db)
        resp = await client.get(
            f"/api/v1/ledger/accounts/{world.wallets[0]}/balance",
            params={"as_of": "2000-01-01T00:00:00Z"},
            headers=admin.headers,
        )
        assert resp.status_code == 200
        assert resp.json()["data"]["posted"] == 0

    async def test_members_are_forbidden(self, client: AsyncClient, db) -> None:
        tenant, world, _ = await setup(db)
        member = await make_actor(db, tenant, Role.member)
        resp = await client.get(
            f"/api/v1/ledger/accounts/{world.wallets[0]}/balance", headers=member.headers
        )
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "FORBIDDEN"

    async def test_another_tenants_account_is_not_found(self, client: AsyncClient, db) -> None:
        _, world, _ = await setup(db)
        _, _, other_admin = await setup(db)
        for path in ("balance", "statement"):
            resp = await client.get(
                f"/api/v1/ledger/accounts/{world.wallets[0]}/{path}", headers=other_admin.headers
            )
            assert resp.status_code == 404
            assert resp.json()["error"]["code"] == "ACCOUNT_NOT_FOUND"
        resp = await client.get(
            f"/api/v1/ledger/accounts/{uuid.uuid4()}/balance", headers=other_admin.headers
        )
        assert resp.json()["error"]["code"] == "ACCOUNT_NOT_FOUND"

    async def test_bad_asset_code_is_a_validation_error(self, client: AsyncClient, db) -> None:
        _, _, admin = await setup(db)
        resp = await client.get("/api/v1/ledger/supply/usd!", headers=admin.headers)
        assert resp.status_code == 422
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
