"""Webhook jobs: fan events out to subscriptions, POST deliveries, process inbound callbacks."""

from __future__ import annotations

import uuid

from procrastinate import JobContext
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.registry import handler
from ludus.core.events.schemas import Event
from ludus.core.jobs.app import app
from ludus.core.kit.db import get_database
from ludus.core.webhooks import inbound, outbound


@handler("*", name="webhooks.fan_out", queue=outbound.QUEUE, when=outbound.has_subscriptions)
async def fan_out(session: AsyncSession, event: Event) -> None:
    await outbound.fan_out(session, event)


@app.task(
    name=outbound.DELIVER_TASK,
    queue=outbound.QUEUE,
    retry=outbound.DELIVERY_RETRY,
    pass_context=True,
)
async def deliver(context: JobContext, delivery_id: str, tenant_id: str) -> None:
    await outbound.deliver(
        get_database(),
        uuid.UUID(delivery_id),
        uuid.UUID(tenant_id),
        last_try=outbound.DELIVERY_RETRY.is_last_try(context.job),
    )


@app.task(
    name=inbound.PROCESS_TASK,
    queue=inbound.QUEUE,
    retry=inbound.PROCESS_RETRY,
    pass_context=True,
)
async def process_inbound(context: JobContext, webhook_id: str, tenant_id: str) -> None:
    db = get_database()
    try:
        await inbound.process(db, uuid.UUID(webhook_id), uuid.UUID(tenant_id))
    except Exception as exc:
        await inbound.record_failure(
            db,
            uuid.UUID(webhook_id),
            uuid.UUID(tenant_id),
            exc,
            final=inbound.PROCESS_RETRY.is_last_try(context.job),
        )
        raise
