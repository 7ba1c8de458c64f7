"""Game events (spec 000 §10.1) through the core transactional outbox.

`emit_many` writes several events as one outbox insert plus their handler jobs, queued on
a `bulk.Batch` so that both go out with the caller's other writes in one statement: the
same rows `ludus.core.events.service.emit` writes one event at a time (month-end batches
emit thousands; the hot path emits one or two).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.context import current_correlation_id, current_trace_id
from ludus.core.events.models import OutboxEvent
from ludus.core.events.registry import handlers_for
from ludus.core.events.service import HANDLE_TASK, handler_job_args
from ludus.core.jobs.defer import JobSpec
from ludus.core.jobs.worker import discover_tasks
from ludus.core.kit.clock import utcnow
from ludus.moneylife import bulk

SOURCE = "moneylife"
PRODUCT = "moneylife"

GAME_CREATED = "game.created"
DAY_ADVANCED = "game.day.advanced"
CARD_RESOLVED = "game.card.resolved"
MONTH_ENDED = "game.month.ended"
LEVEL_UP = "game.level.up"
BANKRUPTCY = "game.bankruptcy"
COMPLETED = "game.completed"


@dataclass(frozen=True)
class GameEvent:
    event_type: str
    tenant_id: uuid.UUID
    data: dict[str, Any]


def game_event(
    event_type: str, tenant_id: uuid.UUID, game_id: uuid.UUID, user_id: uuid.UUID, **data: Any
) -> GameEvent:
    """Every game event names the game, the player and the product (engagement reads them)."""
    return GameEvent(
        event_type,
        tenant_id,
        {"game_id": game_id, "user_id": user_id, "product": PRODUCT, **data},
    )


async def emit_many(
    session: AsyncSession, events: list[GameEvent], batch: bulk.Batch | None = None
) -> list[uuid.UUID]:
    """Outbox rows (into `batch` when given, flushed with it) and their handler jobs."""
    if not events:
        return []
    discover_tasks()
    now = utcnow()
    correlation = current_correlation_id()
    trace = current_trace_id()
    rows, jobs, ids = [], [], []
    for ev in events:
        event_id = uuid.uuid4()
        ids.append(event_id)
        rows.append(
            {
                "id": event_id,
                "event_type": ev.event_type,
                "version": "1.0",
                "source": SOURCE,
                "tenant_id": ev.tenant_id,
                "data": ev.data,
                "metadata": {
                    "correlation_id": correlation or str(event_id),
                    "trace_id": trace or uuid.uuid4().hex,
                },
                "occurred_at": now,
            }
        )
        for spec in handlers_for(ev.event_type):
            jobs.append(
                JobSpec(
                    HANDLE_TASK,
                    handler_job_args(event_id, spec.name, ev.tenant_id),
                    queue=spec.queue,
                )
            )
    own = batch is None
    batch = batch or bulk.Batch()
    batch.insert(cast(Table, OutboxEvent.__table__), rows)
    batch.defer(jobs)
    if own:
        await batch.flush(session)
    return ids
