"""Jobs: deliver one message or a batch (retries are scheduled by `delivery` itself, so the
job engine runs each try once), and the periodic sweep for messages whose job was lost."""

from __future__ import annotations

import uuid

from ludus.core.jobs.registry import Backoff, job, periodic
from ludus.core.notifications import delivery


@job(delivery.DELIVER_TASK, queue=delivery.QUEUE, retry=Backoff(max_tries=1))
async def deliver_message(message_id: str) -> None:
    await delivery.deliver(uuid.UUID(message_id))


@job(delivery.DELIVER_BATCH_TASK, queue=delivery.QUEUE, retry=Backoff(max_tries=1))
async def deliver_batch(message_ids: list[str]) -> None:
    await delivery.deliver_many([uuid.UUID(i) for i in message_ids])


@periodic("* * * * *", name="notifications.deliver_due")
async def deliver_due(timestamp: int) -> None:
    await delivery.deliver_due()
