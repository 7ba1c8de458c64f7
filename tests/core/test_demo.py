from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import func, select

from ludus.core.auth.models import Membership, User
from ludus.core.tenancy.models import Tenant
from ludus.demo import DEMO_TENANTS, seed


async def _counts(db) -> tuple[int, int, int]:
    async with db.session(system=True) as s:
        return (
            await s.scalar(select(func.count()).select_from(Tenant)) or 0,
            await s.scalar(select(func.count()).select_from(User)) or 0,
            await s.scalar(select(func.count()).select_from(Membership)) or 0,
        )


class TestDemoSeed:
    async def test_seed_is_idempotent_and_serves_every_product(
        self, db, client: AsyncClient
    ) -> None:
        async with db.session(system=True) as s:
            await seed(s)
        first = await _counts(db)
        async with db.session(system=True) as s:
            await seed(s)
        assert await _counts(db) == first
        products = set()
        for spec in DEMO_TENANTS:
            resp = await client.get(f"/api/v1/tenants/{spec.slug}/theme")
            assert resp.status_code == 200
            products.update(resp.json()["data"]["products"])
        assert products == {"moneylife", "savings", "paya", "loyalty", "classify"}
