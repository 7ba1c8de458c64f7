"""System-admin views of events: dead letters (list, replay), one event's delivery state."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from ludus.core.audit import service as audit
from ludus.core.auth.principal import SystemAdmin
from ludus.core.events import deadletters
from ludus.core.events.models import DeadLetter, DeadLetterStatus, HandlerRun, OutboxEvent
from ludus.core.events.registry import all_handlers, handlers_for
from ludus.core.events.schemas import (
    DeadLetterOut,
    Event,
    EventMetadata,
    EventOut,
    HandlerRunOut,
)
from ludus.core.http.session import DbSession
from ludus.core.kit.db import set_system_scope
from ludus.core.kit.errors import NotFound
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, Schema, ok

router = APIRouter(prefix="/admin/events", tags=["events"])


class HandlerOut(Schema):
    name: str
    patterns: list[str]
    queue: str
    max_tries: int


@router.get("/dead-letters", response_model=PageEnvelope[DeadLetterOut])
async def list_dead_letters(
    principal: SystemAdmin,
    session: DbSession,
    page: PageQuery,
    status: Literal["dead", "replaying", "resolved", "all"] = "dead",
    handler: Annotated[str | None, Query(max_length=150)] = None,
    event_type: Annotated[str | None, Query(max_length=100)] = None,
    tenant_id: uuid.UUID | None = None,
) -> PageEnvelope[DeadLetterOut]:
    await set_system_scope(session)
    rows, total = await deadletters.list_dead_letters(
        session,
        status=None if status == "all" else DeadLetterStatus(status),
        handler=handler,
        event_type=event_type,
        tenant_id=tenant_id,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([DeadLetterOut.model_validate(r) for r in rows], total, page)


@router.post("/dead-letters/{dead_letter_id}/replay", response_model=Envelope[DeadLetterOut])
async def replay_dead_letter(
    dead_letter_id: uuid.UUID, principal: SystemAdmin, session: DbSession
) -> Envelope[DeadLetterOut]:
    await set_system_scope(session)
    row = await deadletters.replay(session, dead_letter_id)
    await audit.record(
        session,
        action="events.dead_letter.replayed",
        tenant_id=row.tenant_id,
        actor_user_id=principal.user_id,
        target_type="event_dead_letter",
        target_id=row.id,
        after={"event_id": str(row.event_id), "handler": row.handler},
    )
    return ok(DeadLetterOut.model_validate(row))


@router.get("/handlers", response_model=Envelope[list[HandlerOut]])
async def list_handlers(principal: SystemAdmin) -> Envelope[list[HandlerOut]]:
    return ok(
        [
            HandlerOut(
                name=s.name, patterns=list(s.patterns), queue=s.queue, max_tries=s.retry.max_tries
            )
            for s in all_handlers()
        ]
    )


@router.get("/{event_id}", response_model=Envelope[EventOut])
async def get_event(
    event_id: uuid.UUID, principal: SystemAdmin, session: DbSession
) -> Envelope[EventOut]:
    await set_system_scope(session)
    row = await session.get(OutboxEvent, event_id)
    if row is None:
        raise NotFound("Event not found.", details={"event_id": str(event_id)})
    runs = (
        await session.execute(select(HandlerRun).where(HandlerRun.event_id == event_id))
    ).scalars()
    dead = (
        await session.execute(select(DeadLetter).where(DeadLetter.event_id == event_id))
    ).scalars()
    return ok(
        EventOut(
            event=Event(
                event_id=row.id,
                event_type=row.event_type,
                version=row.version,
                timestamp=row.occurred_at,
                source=row.source,
                tenant_id=row.tenant_id,
                data=row.data,
                metadata=EventMetadata.model_validate(row.event_metadata),
            ),
            handlers=[s.name for s in handlers_for(row.event_type)],
            processed=[HandlerRunOut.model_validate(r) for r in runs],
            dead_letters=[DeadLetterOut.model_validate(d) for d in dead],
        )
    )
