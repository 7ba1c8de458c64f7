from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import func, select

from ludus.core.auth.models import Role
from ludus.core.idempotency.models import IdempotencyRecord
from ludus.core.jobs.runner import run_periodic
from ludus.core.kit import clock
from tests.factories import make_actor, unique


class TestIdempotencyPurge:
    async def test_daily_job_forgets_keys_older_than_a_day(self, client: AsyncClient, db) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        key = unique("purge")
        body = {"slug": unique("p"), "name": "Purge", "kind": "chama"}
        headers = {**admin.headers, "Idempotency-Key": key}
        assert (
            await client.post("/api/v1/admin/tenants", json=body, headers=headers)
        ).status_code == 201

        async def stored() -> int:
            async with db.session(system=True) as s:
                query = select(func.count()).select_from(IdempotencyRecord)
                return await s.scalar(query.where(IdempotencyRecord.key == key)) or 0

        await run_periodic("idempotency.purge_expired")
        assert await stored() == 1
        clock.advance(25 * 3600)
        await run_periodic("idempotency.purge_expired")
        assert await stored() == 0
