"""Run one handler for one event: claim (handler, event) and apply the handler's effects in
one transaction, so a retried or duplicated job never applies them twice."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from ludus.core.events import deadletters
from ludus.core.events.context import handling
from ludus.core.events.registry import HandlerSpec
from ludus.core.events.schemas import Event
from ludus.core.kit.db import Database

_CLAIM = text(
    "WITH claimed AS ("
    " INSERT INTO event_handler_runs (handler, event_id, tenant_id)"
    " SELECT :handler, id, tenant_id FROM event_outbox WHERE id = :event_id"
    " ON CONFLICT DO NOTHING RETURNING event_id)"
    " SELECT o.id, o.event_type, o.version, o.source, o.tenant_id, o.data, o.metadata,"
    " o.occurred_at FROM event_outbox o JOIN claimed c ON c.event_id = o.id"
)


async def run_handler(
    db: Database,
    spec: HandlerSpec,
    event_id: uuid.UUID,
    tenant_id: uuid.UUID | None,
    *,
    replay: bool = False,
) -> bool:
    """True if the handler ran now; False if it had already run for this event."""
    async with db.session(tenant_id=tenant_id, system=tenant_id is None) as session:
        row = (await session.execute(_CLAIM, {"handler": spec.name, "event_id": event_id})).first()
        if row is None:
            if replay:
                await deadletters.mark_resolved(session, event_id, spec.name)
            return False
        event = Event.from_row(row)
        with handling(event.metadata.correlation_id, event.metadata.trace_id):
            await spec.func(session, event)
        if replay:
            await deadletters.mark_resolved(session, event_id, spec.name)
    return True
