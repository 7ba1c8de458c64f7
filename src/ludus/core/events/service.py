"""Emit events through the transactional outbox.

`emit` writes the event row AND one Procrastinate job per matching handler with the
caller's session, so both commit or roll back with the change the event reports.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.context import current_correlation_id, current_trace_id
from ludus.core.events.models import OutboxEvent
from ludus.core.events.registry import handlers_for
from ludus.core.jobs.defer import JobSpec, defer_many
from ludus.core.jobs.worker import discover_tasks
from ludus.core.kit.clock import utcnow

HANDLE_TASK = "events.handle"
BATCH = 1000
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """UUIDs, datetimes and enums become JSON strings; anything else non-JSON fails loudly."""
    value = orjson.loads(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS))
    if not isinstance(value, dict):
        raise TypeError("event data must be a JSON object")
    return value


@dataclass(frozen=True)
class NewEvent:
    event_type: str
    tenant_id: uuid.UUID | None
    data: dict[str, Any]
    source: str
    version: str = "1.0"
    correlation_id: str | None = None


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
    event = NewEvent(event_type, tenant_id, data, source, version, correlation_id)
    return (await emit_many(session, [event]))[0]


async def emit_many(session: AsyncSession, events: Sequence[NewEvent]) -> list[uuid.UUID]:
    """Record several events with one outbox insert and one job insert per batch."""
    for ev in events:
        if not _EVENT_TYPE.match(ev.event_type):
            raise ValueError(f"event type {ev.event_type!r} must look like 'module.thing.happened'")
    discover_tasks()
    now = utcnow()
    correlation, trace = current_correlation_id(), current_trace_id()
    rows: list[dict[str, Any]] = []
    jobs: list[JobSpec] = []
    guards: dict[tuple[str, str, uuid.UUID | None], bool] = {}
    for ev in events:
        event_id = uuid.uuid4()
        rows.append(
            {
                "id": event_id,
                "event_type": ev.event_type,
                "version": ev.version,
                "source": ev.source,
                "tenant_id": ev.tenant_id,
                "data": _jsonable(ev.data),
                "metadata": {
                    "correlation_id": ev.correlation_id or correlation or str(event_id),
                    "trace_id": trace or uuid.uuid4().hex,
                },
                "occurred_at": now,
            }
        )
        for spec in handlers_for(ev.event_type):
            if spec.when is not None:
                key = (spec.name, ev.event_type, ev.tenant_id)
                if key not in guards:
                    guards[key] = await spec.when(session, ev.event_type, ev.tenant_id)
                if not guards[key]:
                    continue
            args = handler_job_args(event_id, spec.name, ev.tenant_id)
            jobs.append(JobSpec(HANDLE_TASK, args, queue=spec.queue))
    table = cast(Table, OutboxEvent.__table__)
    for i in range(0, len(rows), BATCH):
        await session.execute(insert(table), rows[i : i + BATCH])
    for i in range(0, len(jobs), BATCH):
        await defer_many(session, jobs[i : i + BATCH])
    return [row["id"] for row in rows]


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
