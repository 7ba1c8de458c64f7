"""Jobs: drain stored M-Pesa callbacks, close challenges at their deadline, daily analytics,
reminders and STK reconciliation.

Drain scheduling: ingest sets `savings_orgs.drain_scheduled` and defers a drain job only
when it was false, so a burst of callbacks queues one job, not thousands. The drain clears
the flag first, then works until a final check, made under an exclusive advisory lock,
finds nothing pending; ingest holds the shared side of that lock until it commits, so a
callback is either seen by that check or finds the flag cleared and queues a new drain.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.jobs.defer import defer
from ludus.core.jobs.registry import Backoff, job, periodic
from ludus.core.kit.db import Database, get_database
from ludus.savings import deposits, repository
from ludus.savings.models import CallbackStatus, MpesaCallback, SavingsOrg

log = structlog.get_logger("ludus.savings")
DRAIN_TASK = "savings.drain_callbacks"
BATCH = 200
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(hashtext('savings-drain:' || :t))")


async def ensure_drain_scheduled(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    flipped = await session.execute(
        update(SavingsOrg)
        .where(SavingsOrg.tenant_id == tenant_id, SavingsOrg.drain_scheduled.is_(False))
        .values(drain_scheduled=True)
        .returning(SavingsOrg.id)
    )
    if flipped.first() is not None:
        await defer(
            session,
            DRAIN_TASK,
            args={"tenant_id": str(tenant_id)},
            lock=f"savings-drain:{tenant_id}",
        )


@job(DRAIN_TASK, retry=Backoff(max_tries=5, base_seconds=5))
async def drain_callbacks(tenant_id: str) -> None:
    await drain(get_database(), uuid.UUID(tenant_id))


async def drain(db: Database, tenant_id: uuid.UUID, batch: int = BATCH) -> int:
    """Process every pending callback of the org; returns how many were handled."""
    async with db.session(tenant_id=tenant_id) as s:
        await s.execute(
            update(SavingsOrg)
            .where(SavingsOrg.tenant_id == tenant_id)
            .values(drain_scheduled=False)
        )
    done = 0
    while True:
        handled = await _batch(db, tenant_id, batch)
        done += handled
        if handled:
            continue
        async with db.session(tenant_id=tenant_id) as s:
            await s.execute(_EXCLUSIVE, {"t": str(tenant_id)})
            pending = await s.scalar(
                select(
                    exists().where(
                        MpesaCallback.tenant_id == tenant_id,
                        MpesaCallback.status == CallbackStatus.received,
                    )
                )
            )
        if not pending:
            return done


async def _batch(db: Database, tenant_id: uuid.UUID, size: int) -> int:
    """One transaction for the whole batch; if anything fails, redo it one by one so a bad
    callback is marked failed without holding back the others."""
    try:
        async with db.session(tenant_id=tenant_id) as s:
            org = await repository.get_org(s, tenant_id)
            callbacks = await repository.claim_pending_callbacks(s, tenant_id, size)
            if org is None or not callbacks:
                return 0
            for cb in callbacks:
                await deposits.process_callback(s, org, cb)
                await repository.mark_callback(s, cb.id, CallbackStatus.processed, None)
            return len(callbacks)
    except Exception:
        log.warning("savings_batch_failed", tenant_id=str(tenant_id), exc_info=True)
    handled = 0
    for _ in range(size):
        async with db.session(tenant_id=tenant_id) as s:
            org = await repository.get_org(s, tenant_id)
            callbacks = await repository.claim_pending_callbacks(s, tenant_id, 1)
            if org is None or not callbacks:
                return handled
            cb = callbacks[0]
            try:
                async with s.begin_nested():
                    await deposits.process_callback(s, org, cb)
                error, status = None, CallbackStatus.processed
            except Exception as exc:
                log.warning("savings_callback_failed", callback_id=str(cb.id), exc_info=True)
                error, status = f"{type(exc).__name__}: {exc}"[:2000], CallbackStatus.failed
            await repository.mark_callback(s, cb.id, status, error)
            handled += 1
    return handled


@periodic("*/5 * * * *", name="savings.sweep_callbacks")
async def sweep_callbacks(timestamp: int) -> None:
    """Safety net: drain any org that still has unprocessed callbacks."""
    db = get_database()
    async with db.session(system=True) as s:
        rows = await s.execute(
            select(MpesaCallback.tenant_id)
            .where(MpesaCallback.status == CallbackStatus.received)
            .distinct()
        )
        tenants = [r[0] for r in rows.all()]
    for tenant_id in tenants:
        await drain(db, tenant_id)


@periodic("*/15 * * * *", name="savings.close_challenges")
async def close_challenges(timestamp: int) -> None:
    from ludus.savings import lifecycle

    await lifecycle.close_due(get_database())


@periodic("30 0 * * *", name="savings.daily_analytics")
async def daily_analytics(timestamp: int) -> None:
    from ludus.savings import analytics

    await analytics.compute_all(get_database())


@periodic("0 7 * * *", name="savings.reminders")
async def reminders(timestamp: int) -> None:
    from ludus.savings import lifecycle

    await lifecycle.send_reminders(get_database())
