"""Engagement jobs and event handlers.

* `engagement.ingest`: product events that name a user feed streaks, challenges, badges and
  referrals (data: user_id, optional amount and product).
* Periodic: start/finalize challenges, break expired streaks, fulfil and auto-confirm
  redemptions.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.registry import handler
from ludus.core.events.schemas import Event
from ludus.core.jobs.registry import job, periodic
from ludus.core.kit.db import get_database
from ludus.engagement import activity, service
from ludus.engagement.catalog import processing
from ludus.engagement.catalog.service import FULFIL_TASK
from ludus.engagement.challenges.service import finalize_due_challenges

# The four gamified products (PaYa does not use the kit).
PRODUCT_EVENTS = ("game.*", "moneylife.*", "savings.*", "loyalty.*", "classify.*")


@handler(*PRODUCT_EVENTS, name="engagement.ingest")
async def ingest_product_event(session: AsyncSession, event: Event) -> None:
    try:
        user_id = uuid.UUID(str(event.data.get("user_id")))
    except ValueError:
        return  # not about one user
    if event.tenant_id is None:
        return
    amount = event.data.get("amount", 0)
    await activity.ingest(
        session,
        tenant_id=event.tenant_id,
        user_id=user_id,
        product=str(event.data.get("product") or event.event_type.split(".", 1)[0]),
        event_id=event.event_id,
        event_type=event.event_type,
        occurred_at=event.timestamp,
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else 0,
    )


@job(FULFIL_TASK)
async def fulfil_redemption(tenant_id: str, redemption_id: str) -> None:
    async with get_database().session(tenant_id=uuid.UUID(tenant_id)) as session:
        row = await processing.get_redemption(
            session, uuid.UUID(tenant_id), uuid.UUID(redemption_id), lock=True
        )
        if row.status in ("pending", "processing"):
            await processing.fulfil_one(session, row)


@periodic("* * * * *", name="engagement.finalize_challenges")
async def finalize_challenges(timestamp: int) -> None:
    async with get_database().session(system=True) as session:
        await finalize_due_challenges(session)


@periodic("*/10 * * * *", name="engagement.sweep_streaks")
async def sweep_streaks(timestamp: int) -> None:
    async with get_database().session(system=True) as session:
        await service.sweep_streaks(session)


@periodic("*/5 * * * *", name="engagement.process_redemptions")
async def process_redemptions(timestamp: int) -> None:
    async with get_database().session(system=True) as session:
        await processing.process_redemptions(session)


@periodic("30 4 * * *", name="engagement.auto_confirm_redemptions")
async def auto_confirm(timestamp: int) -> None:
    async with get_database().session(system=True) as session:
        await processing.auto_confirm(session)
