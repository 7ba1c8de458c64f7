"""Enqueue jobs inside the caller's SQLAlchemy transaction.

Rows go into `procrastinate_jobs` through Procrastinate's own `procrastinate_defer_jobs_v1`
SQL function, so a job exists exactly when the data it follows from was committed; its
insert trigger notifies listening workers at commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.jobs.app import app
from ludus.core.jobs.registry import DEFAULT_QUEUE

_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY("
    " SELECT ROW(j.queue, j.task, j.priority, j.lock, NULL, j.args, j.scheduled_at)"
    "::procrastinate_job_to_defer_v1"
    " FROM unnest(CAST(:queues AS varchar[]), CAST(:tasks AS varchar[]),"
    " CAST(:priorities AS integer[]), CAST(:locks AS text[]), CAST(:args AS jsonb[]),"
    " CAST(:scheduled AS timestamptz[])) AS j(queue, task, priority, lock, args, scheduled_at)"
    "))"
)


@dataclass(frozen=True)
class JobSpec:
    task: str
    args: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None  # None: the queue the task was registered with
    priority: int = 0
    lock: str | None = None  # jobs sharing a lock never run at the same time
    schedule_at: datetime | None = None


def _queue_of(spec: JobSpec) -> str:
    if spec.queue:
        return spec.queue
    task = app.tasks.get(spec.task)
    return task.queue if task is not None else DEFAULT_QUEUE


async def defer_many(session: AsyncSession, specs: Sequence[JobSpec]) -> list[int]:
    """Insert all jobs with one statement in the session's transaction; returns job ids."""
    if not specs:
        return []
    result = await session.execute(
        _DEFER,
        {
            "queues": [_queue_of(s) for s in specs],
            "tasks": [s.task for s in specs],
            "priorities": [s.priority for s in specs],
            "locks": [s.lock for s in specs],
            "args": [orjson.dumps(s.args).decode() for s in specs],
            "scheduled": [s.schedule_at for s in specs],
        },
    )
    ids: list[int] | None = result.scalar_one()
    return list(ids or [])


async def defer(
    session: AsyncSession,
    task: str,
    *,
    args: dict[str, Any] | None = None,
    queue: str | None = None,
    priority: int = 0,
    lock: str | None = None,
    schedule_at: datetime | None = None,
) -> int:
    """Enqueue one job for `task` (a name registered with `@job`) in this transaction."""
    spec = JobSpec(task, args or {}, queue, priority, lock, schedule_at)
    return (await defer_many(session, [spec]))[0]
