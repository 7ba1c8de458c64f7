from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from ludus.core.jobs.runner import run_periodic
from ludus.core.kit import clock
from ludus.core.ledger import service as ledger
from ludus.core.ledger.models import Hold
from tests.core.ledger.helpers import committed_world


class TestHoldExpiryJob:
    async def test_periodic_job_voids_only_expired_holds(self, db) -> None:
        world = await committed_world(db)
        a, b, _ = world.wallets
        async with db.session(tenant_id=world.tenant_id) as session:
            holds = [
                await ledger.hold(
                    session,
                    tenant_id=world.tenant_id,
                    idempotency_key=uuid.uuid4().hex,
                    kind="ach_load",
                    from_account=a,
                    to_account=b,
                    amount=amount,
                    expires_at=clock.utcnow() + timedelta(minutes=minutes),
                )
                for amount, minutes in ((300, 5), (200, 120))
            ]
        clock.advance(600)
        await run_periodic("ledger.expire_holds")
        async with db.session(tenant_id=world.tenant_id) as session:
            balance = await ledger.get_balance(session, tenant_id=world.tenant_id, account_id=a)
            rows = await session.execute(
                select(Hold.id, Hold.status).where(Hold.id.in_([h.id for h in holds]))
            )
            by_id = dict(rows.tuples().all())
            statuses = [by_id[h.id] for h in holds]
        assert statuses == ["expired", "pending"]
        assert balance.pending_out == 200
