"""PaYa jobs: money-movement processing, Dwolla webhooks, weekly rewards, daily
reconciliation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import orjson
import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.jobs.registry import job, periodic
from ludus.core.kit import clock
from ludus.core.kit.db import Database, get_database
from ludus.core.tenancy.models import Product, Tenant, TenantKind, TenantStatus
from ludus.core.webhooks.models import InboundWebhook
from ludus.core.webhooks.providers import processor
from ludus.paya import money, reserve, rewards
from ludus.paya import repository as repo
from ludus.paya.adapters.http import last_path_segment

log = structlog.get_logger("ludus.paya")


async def process_movement(db: Database, movement_id: uuid.UUID) -> str | None:
    """Advance one movement in its own transaction; None if another worker holds it."""
    async with db.session(system=True) as session:
        movement = await repo.lock_movement(session, movement_id)
        if movement is None:
            return None
        await money.advance(session, movement)
        return movement.status


async def process_due(db: Database, *, limit: int = 500, tenant_id: uuid.UUID | None = None) -> int:
    """Retry queued movements and check pending ones whose time has come."""
    async with db.session(system=True) as session:
        ids = await repo.due_movement_ids(
            session, statuses=("queued", "pending"), before=clock.utcnow(), limit=limit,
            tenant_id=tenant_id,
        )  # fmt: skip
    for movement_id in ids:
        await process_movement(db, movement_id)
    return len(ids)


async def paya_tenants(db: Database) -> list[uuid.UUID]:
    async with db.session(system=True) as session:
        rows = await session.execute(
            select(Tenant.id).where(
                Tenant.status == TenantStatus.active,
                or_(
                    Tenant.kind == TenantKind.payment_network,
                    Tenant.products.contains([Product.paya.value]),
                ),
            )
        )
        return list(rows.scalars())


@job("paya.process_movement")
async def process_movement_job(movement_id: str) -> None:
    await process_movement(get_database(), uuid.UUID(movement_id))


@periodic("* * * * *", name="paya.movements_due")
async def movements_due(timestamp: int) -> None:
    await process_due(get_database())


@periodic("5 0 * * 1", name="paya.weekly_rewards")
async def weekly_rewards(timestamp: int) -> None:
    """Monday 00:05 UTC: distribute the week that just ended, for every PaYa tenant."""
    db = get_database()
    week = rewards.week_start(clock.utcnow().date() - timedelta(days=7))
    for tenant_id in await paya_tenants(db):
        try:
            await rewards.run_week(db, tenant_id, week)
        except Exception:  # one tenant's failure must not stop the others; re-run resumes
            log.exception("weekly_rewards_failed", tenant_id=str(tenant_id))


@periodic("30 0 * * *", name="paya.daily_reconciliation")
async def daily_reconciliation(timestamp: int) -> None:
    db = get_database()
    for tenant_id in await paya_tenants(db):
        async with db.session(tenant_id=tenant_id) as session:
            await reserve.reconcile(session, tenant_id)


@processor("dwolla")
async def dwolla_webhook(session: AsyncSession, webhook: InboundWebhook) -> None:
    """A transfer changed state: check it with Dwolla (the webhook is only a nudge)."""
    try:
        body = orjson.loads(webhook.body)
    except orjson.JSONDecodeError:
        return
    href = ((body.get("_links") or {}).get("resource") or {}).get("href") or ""
    transfer_id = body.get("resourceId") or (last_path_segment(href) if href else None)
    if not transfer_id:
        return
    movement = await repo.movement_by_transfer(session, str(transfer_id))
    if movement is None or movement.tenant_id != webhook.tenant_id:
        return
    locked = await repo.lock_movement(session, movement.id)
    if locked is not None:
        await money.advance(session, locked, webhook=True)
