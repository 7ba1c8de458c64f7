"""The job that runs one handler for one event (retries and dead letters per handler)."""

from __future__ import annotations

import traceback
import uuid

from procrastinate import BaseRetryStrategy, JobContext, RetryDecision
from procrastinate.jobs import Job

from ludus.core.events import deadletters
from ludus.core.events.delivery import run_handler
from ludus.core.events.registry import EVENTS_QUEUE, get_handler
from ludus.core.events.service import HANDLE_TASK
from ludus.core.jobs.app import app
from ludus.core.kit.db import get_database


class UnknownHandler(Exception):
    pass


class HandlerRetry(BaseRetryStrategy):
    """Each handler's own backoff; an unknown handler is not retried."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        spec = get_handler(str(job.task_kwargs.get("handler")))
        if spec is None:
            return None
        return spec.retry.get_retry_decision(exception=exception, job=job)


@app.task(name=HANDLE_TASK, queue=EVENTS_QUEUE, retry=HandlerRetry(), pass_context=True)
async def handle_event(
    context: JobContext,
    event_id: str,
    handler: str,
    tenant_id: str | None = None,
    replay: bool = False,
) -> None:
    spec = get_handler(handler)
    db = get_database()
    try:
        if spec is None:
            raise UnknownHandler(f"no event handler named {handler!r} in this process")
        await run_handler(
            db,
            spec,
            uuid.UUID(event_id),
            uuid.UUID(tenant_id) if tenant_id else None,
            replay=replay,
        )
    except Exception as exc:
        if spec is None or spec.retry.is_last_try(context.job):
            await deadletters.record(
                db,
                event_id=uuid.UUID(event_id),
                handler=handler,
                attempts=context.job.attempts + 1,
                error="".join(traceback.format_exception_only(exc)).strip(),
            )
        raise
