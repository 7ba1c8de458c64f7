"""Emit events through the transactional outbox.

`emit` writes the event row AND one Procrastinate job per matching handler with the
caller's session, so both commit or roll back with the change the event reports.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.context import current_correlation_id, current_trace_id
from ludus.core.events.models import OutboxEvent
from ludus.core.events.registry import handlers_for
from ludus.core.jobs.defer import JobSpec, defer_many
from ludus.core.jobs.worker import discover_tasks
from ludus.core.kit.clock import utcnow

HANDLE_TASK = "events.handle"
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """UUIDs, datetimes and enums become JSON strings; anything else non-JSON fails loudly."""
    value = orjson.loads(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS))
    if not isinstance(value, dict):
        raise TypeError("event data must be a JSON object")
    return value


async def emit(
    session: AsyncSession,
    *,
    event_type: str,
    tenant_id: uuid.UUID | None,
    data: dict[str, Any],
    source: str,
    version: str = "1.0",
    correlation_id: str | None = None,
) -> uuid.UUID:
    """Record an event in the caller's transaction; handlers run after it commits."""
    if not _EVENT_TYPE.match(event_type):
        raise ValueError(f"event type {event_type!r} must look like 'module.thing.happened'")
    discover_tasks()
    event_id = uuid.uuid4()
    metadata = {
        "correlation_id": correlation_id or current_correlation_id() or str(event_id),
        "trace_id": current_trace_id() or uuid.uuid4().hex,
    }
    await session.execute(
        insert(OutboxEvent).values(
            id=event_id,
            event_type=event_type,
            version=version,
            source=source,
            tenant_id=tenant_id,
            data=_jsonable(data),
            event_metadata=metadata,
            occurred_at=utcnow(),
        )
    )
    jobs = [
        JobSpec(HANDLE_TASK, handler_job_args(event_id, spec.name, tenant_id), queue=spec.queue)
        for spec in handlers_for(event_type)
        if spec.when is None or await spec.when(session, event_type, tenant_id)
    ]
    await defer_many(session, jobs)
    return event_id


def handler_job_args(
    event_id: uuid.UUID, handler: str, tenant_id: uuid.UUID | None, *, replay: bool = False
) -> dict[str, Any]:
    args: dict[str, Any] = {
        "event_id": str(event_id),
        "handler": handler,
        "tenant_id": str(tenant_id) if tenant_id else None,
    }
    if replay:
        args["replay"] = True
    return args
