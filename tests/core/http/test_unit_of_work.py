"""TransactionMiddleware's commit: skipped when a request touched nothing, never when it
only added objects."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from ludus.core.audit.models import AuditEvent
from ludus.core.http.middleware import _finish
from ludus.core.http.session import SESSION_STATE_KEY
from tests.factories import make_tenant


class TestFinish:
    async def test_an_added_object_is_committed_without_a_prior_statement(self, db) -> None:
        tenant = await make_tenant(db)
        session = db.sessionmaker()
        session.info.update(tenant_id=tenant.id, bypass_rls=False)
        event = AuditEvent(id=uuid.uuid4(), tenant_id=tenant.id, actor="test", action="uow.test")
        session.add(event)
        await _finish({SESSION_STATE_KEY: session}, commit=True)
        await session.close()
        async with db.session(tenant_id=tenant.id) as s:
            found = await s.scalar(select(AuditEvent.action).where(AuditEvent.id == event.id))
        assert found == "uow.test"

    async def test_an_untouched_session_begins_nothing(self, db) -> None:
        session = db.sessionmaker()
        await _finish({SESSION_STATE_KEY: session}, commit=True)
        assert not session.in_transaction()
        await session.close()
