"""Dead letters: (handler, event) pairs that failed every try; admins list and replay them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.models import DeadLetter, DeadLetterStatus
from ludus.core.events.registry import EVENTS_QUEUE, get_handler
from ludus.core.events.service import HANDLE_TASK, handler_job_args
from ludus.core.jobs.defer import JobSpec, defer_many
from ludus.core.kit.clock import utcnow
from ludus.core.kit.db import Database
from ludus.core.kit.errors import NotFound, error_code

DeadLetterNotReplayable = error_code(
    409, "DEAD_LETTER_NOT_REPLAYABLE", "Only dead letters in status 'dead' can be replayed."
)
MAX_ERROR_CHARS = 4000

_RECORD = text(
    "INSERT INTO event_dead_letters (id, event_id, handler, event_type, tenant_id, status,"
    " attempts, last_error, replay_count, dead_at)"
    " SELECT :id, o.id, :handler, o.event_type, o.tenant_id, 'dead', :attempts, :error, 0, :now"
    " FROM event_outbox o WHERE o.id = :event_id"
    " ON CONFLICT (event_id, handler) DO UPDATE SET status = 'dead',"
    " attempts = event_dead_letters.attempts + EXCLUDED.attempts,"
    " last_error = EXCLUDED.last_error, dead_at = EXCLUDED.dead_at"
)


async def record(
    db: Database, *, event_id: uuid.UUID, handler: str, attempts: int, error: str
) -> None:
    """Called by the job after the last failed try (its own transaction: the try rolled back)."""
    async with db.session(system=True) as session:
        await session.execute(
            _RECORD,
            {
                "id": uuid.uuid4(),
                "event_id": event_id,
                "handler": handler,
                "attempts": attempts,
                "error": error[:MAX_ERROR_CHARS],
                "now": utcnow(),
            },
        )


async def mark_resolved(session: AsyncSession, event_id: uuid.UUID, handler: str) -> None:
    await session.execute(
        update(DeadLetter)
        .where(
            DeadLetter.event_id == event_id,
            DeadLetter.handler == handler,
            DeadLetter.status == DeadLetterStatus.replaying,
        )
        .values(status=DeadLetterStatus.resolved, resolved_at=utcnow())
    )


async def get(session: AsyncSession, dead_letter_id: uuid.UUID) -> DeadLetter:
    row = await session.get(DeadLetter, dead_letter_id)
    if row is None:
        raise NotFound("Dead letter not found.", details={"id": str(dead_letter_id)})
    return row


async def replay(session: AsyncSession, dead_letter_id: uuid.UUID) -> DeadLetter:
    """Queue the handler again (fresh tries) in the caller's transaction."""
    row = (
        await session.execute(
            select(DeadLetter).where(DeadLetter.id == dead_letter_id).with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("Dead letter not found.", details={"id": str(dead_letter_id)})
    if row.status != DeadLetterStatus.dead:
        raise DeadLetterNotReplayable(details={"id": str(row.id), "status": str(row.status)})
    spec = get_handler(row.handler)
    args = handler_job_args(row.event_id, row.handler, row.tenant_id, replay=True)
    queue = spec.queue if spec is not None else EVENTS_QUEUE
    await defer_many(session, [JobSpec(HANDLE_TASK, args, queue=queue)])
    row.status = DeadLetterStatus.replaying
    row.replay_count += 1
    row.replayed_at = utcnow()
    await session.flush()
    return row


async def list_dead_letters(
    session: AsyncSession,
    *,
    status: DeadLetterStatus | None = DeadLetterStatus.dead,
    handler: str | None = None,
    event_type: str | None = None,
    tenant_id: uuid.UUID | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[Sequence[DeadLetter], int]:
    query = select(DeadLetter)
    if status is not None:
        query = query.where(DeadLetter.status == status)
    if handler:
        query = query.where(DeadLetter.handler == handler)
    if event_type:
        query = query.where(DeadLetter.event_type == event_type)
    if tenant_id is not None:
        query = query.where(DeadLetter.tenant_id == tenant_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(DeadLetter.dead_at.desc(), DeadLetter.id).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total
