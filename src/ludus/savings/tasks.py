"""Jobs: drain stored M-Pesa callbacks, close challenges at their deadline, daily analytics,
reminders and STK reconciliation.

Drain scheduling: ingest sets `savings_orgs.drain_scheduled` and defers a drain job only
when it was false, so a burst of callbacks queues one job, not thousands. The drain clears
the flag first, then works until a final check, made under an exclusive advisory lock,
finds nothing pending; ingest holds the shared side of that lock until it commits, so a
callback is either seen by that check or finds the flag cleared and queues a new drain.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import structlog
from sqlalchemy import exists, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.jobs.defer import JobSpec, defer, defer_many
from ludus.core.jobs.registry import Backoff, job, periodic
from ludus.core.kit import driver
from ludus.core.kit.db import Database, get_database
from ludus.core.ledger.transfer import RETRYABLE_SQLSTATES, sqlstate
from ludus.core.notifications.delivery import send_claimed
from ludus.core.tenancy.models import Tenant
from ludus.savings import batch, live, repository
from ludus.savings.models import CallbackStatus, Deposit, Member, MpesaCallback, SavingsOrg

log = structlog.get_logger("ludus.savings")
DRAIN_TASK = "savings.drain_callbacks"
MESSAGES_TASK = "savings.send_messages"
# Drains have a queue of their own, so a month-end burst can get a dedicated worker
# (`ludus worker -q savings`) that receipts and other jobs never crowd out.
DRAIN_QUEUE = "savings"
BATCH = 500
LINGER = 3.0  # seconds; leaderboards trail the last callback by about this much (spec: 30 s)
BUDGET = 10.0  # seconds a drain job runs before it requeues itself behind other orgs
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(hashtext('savings-drain:' || :t))")


async def defer_drain(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    await defer_many(session, [_drain_job(tenant_id)])


def _drain_job(tenant_id: uuid.UUID) -> JobSpec:
    return JobSpec(DRAIN_TASK, {"tenant_id": str(tenant_id)}, lock=f"savings-drain:{tenant_id}")


@job(DRAIN_TASK, queue=DRAIN_QUEUE, retry=Backoff(max_tries=5, base_seconds=5))
async def drain_callbacks(tenant_id: str) -> None:
    await drain(get_database(), uuid.UUID(tenant_id), linger=LINGER, budget=BUDGET)


async def drain(
    db: Database,
    tenant_id: uuid.UUID,
    batch: int = BATCH,
    linger: float = 0.0,
    budget: float | None = None,
) -> int:
    """Process every pending callback of the org; returns how many were handled.

    After a short batch the drain waits `linger` seconds for more: a batch costs about the
    same for 2 callbacks as for 200, and callbacks trickling in would otherwise each pay it.
    After `budget` seconds it queues its successor and stops, so one busy org cannot keep
    a worker slot from the others: drains take turns.
    """
    from ludus.savings import inbox

    deadline = None if budget is None else time.monotonic() + budget
    async with db.session(tenant_id=tenant_id) as s:
        await s.execute(
            update(SavingsOrg)
            .where(SavingsOrg.tenant_id == tenant_id)
            .values(drain_scheduled=False)
        )
        # Read once per drain, not per batch (detached afterwards: plain attributes only).
        org = await repository.get_org(s, tenant_id)
        tenant = await s.get(Tenant, tenant_id)
    if org is None or tenant is None:
        return 0
    done = 0
    while True:
        handled = await _batch(db, org, tenant, batch)
        done += handled
        if handled:
            if deadline is not None and time.monotonic() > deadline:
                async with db.session(tenant_id=tenant_id) as s:
                    await inbox.schedule_drain(s, tenant_id)
                return done
            if handled < batch and linger:
                await asyncio.sleep(linger)
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


async def _batch(db: Database, org: SavingsOrg, tenant: Tenant, size: int) -> int:
    """One transaction for the whole batch; if anything fails, redo it one by one so a bad
    callback is marked failed without holding back the others."""
    tenant_id = tenant.id
    try:
        async with db.session(tenant_id=tenant_id) as s:
            return await _claim_and_record(s, org, tenant, size)
    except DBAPIError as exc:
        if sqlstate(exc) in RETRYABLE_SQLSTATES:
            raise  # a deadlock is no reason to fail callbacks: the job retries
        log.warning("savings_batch_failed", tenant_id=str(tenant_id), exc_info=True)
    except Exception:
        log.warning("savings_batch_failed", tenant_id=str(tenant_id), exc_info=True)
    handled = 0
    for _ in range(size):
        async with db.session(tenant_id=tenant_id) as s:
            try:
                async with s.begin_nested():
                    got = await _claim_and_record(s, org, tenant, 1)
            except Exception as exc:
                log.warning("savings_callback_failed", tenant_id=str(tenant_id), exc_info=True)
                callbacks = await repository.claim_pending_callbacks(s, tenant_id, 1)
                error = f"{type(exc).__name__}: {exc}"[:2000]
                await batch.mark(s, [cb.id for cb in callbacks], CallbackStatus.failed, error)
                got = len(callbacks)
            if not got:
                return handled
            handled += got
    return handled


async def _claim_and_record(s: AsyncSession, org: SavingsOrg, tenant: Tenant, size: int) -> int:
    callbacks = await repository.claim_and_mark_processed(s, tenant.id, size)
    if not callbacks:
        return 0
    outcome = await batch.record(s, org, tenant, callbacks)
    await defer_messages(s, tenant.id, outcome)
    return len(callbacks)


async def defer_messages(s: AsyncSession, tenant_id: uuid.UUID, outcome: live.Outcome) -> None:
    """Receipts and rank messages go out from their own job, off the drain's path."""
    if not outcome.totals and not outcome.rank_ups:
        return
    await defer(
        s,
        MESSAGES_TASK,
        args={
            "tenant_id": str(tenant_id),
            "receipts": [[str(d), total] for d, total in outcome.totals.items()],
            "rank_ups": [
                [
                    str(r.member_id),
                    str(r.challenge_id),
                    r.challenge,
                    r.rank,
                    r.points,
                    str(r.deposit_id),
                ]
                for r in outcome.rank_ups
            ],
        },
    )


# The batch's deposits with their members, the members of its rank climbs (normally the
# same ones) and the org's brand name, in one round trip.
_MESSAGE_ROWS = (
    "SELECT o.branding, x.deposit_id, x.amount, x.receipt, x.member_id, x.user_id"
    f" FROM {SavingsOrg.__tablename__} AS o LEFT JOIN LATERAL ("
    "  SELECT d.id AS deposit_id, d.amount, d.receipt, m.id AS member_id, m.user_id"
    f"  FROM {Deposit.__tablename__} AS d JOIN {Member.__tablename__} AS m ON m.id = d.member_id"
    "  WHERE d.tenant_id = o.tenant_id AND d.id = ANY(%(deposits)s)"
    "  UNION ALL SELECT NULL, NULL, NULL, m.id, m.user_id"
    f"  FROM {Member.__tablename__} AS m"
    "  WHERE m.tenant_id = o.tenant_id AND m.id = ANY(%(members)s)"
    " ) AS x ON true WHERE o.tenant_id = %(t)s"
)


@job(MESSAGES_TASK, retry=Backoff(max_tries=5, base_seconds=10))
async def send_messages(
    tenant_id: str, receipts: list[list[Any]], rank_ups: list[list[Any]]
) -> None:
    """Deposit receipts and rank-change messages for one drained batch (deduplicated by
    receipt and deposit, so a retried job sends nothing twice), written with one insert and
    sent right after the commit, by this job (quiet hours: by jobs at their end)."""
    from ludus.savings import notify

    tenant_uuid = uuid.UUID(tenant_id)
    db = get_database()
    async with db.session(tenant_id=tenant_uuid) as s:
        rows = await driver.fetch(
            s,
            _MESSAGE_ROWS,
            {"t": tenant_uuid, "deposits": [uuid.UUID(d) for d, _ in receipts],
             "members": list({uuid.UUID(r[0]) for r in rank_ups})},
        )  # fmt: skip
        if not rows:
            return  # no such org
        brand_name = str((rows[0].branding or {}).get("brand_name") or "Savings")
        deposits = {r.deposit_id: r for r in rows if r.deposit_id is not None}
        users = {r.member_id: r.user_id for r in rows if r.member_id is not None}
        messages: dict[str, list[tuple[uuid.UUID, dict[str, object], str]]] = {}
        messages["savings.deposit_receipt"] = [
            (d.user_id, *notify.receipt_context(d.receipt, d.amount, int(total)))
            for deposit_id, total in receipts
            if (d := deposits.get(uuid.UUID(deposit_id))) is not None
        ]
        messages["savings.rank_changed"] = [
            (user, {"challenge": challenge, "rank": rank, "points": points},
             f"savings:rank:{challenge_id}:{member_id}:{rank}:{deposit_id}")
            for member_id, challenge_id, challenge, rank, points, deposit_id in rank_ups
            if (user := users.get(uuid.UUID(member_id)))
        ]  # fmt: skip
        claimed = await notify.send_batches(s, tenant_uuid, brand_name, messages)
        tenant = await s.get(Tenant, tenant_uuid)  # loaded by the call above: no query
    await send_claimed(tenant, [(c.id, c.message) for c in claimed], db=db)


@periodic("*/5 * * * *", name="savings.sweep_callbacks")
async def sweep_callbacks(timestamp: int) -> None:
    """Safety net: queue a drain for any org with callbacks pending for over a minute. It
    goes through the job (and its per-org lock): two drains of one org never overlap."""
    async with get_database().session(system=True) as s:
        rows = await s.execute(
            select(MpesaCallback.tenant_id)
            .where(
                MpesaCallback.status == CallbackStatus.received,
                MpesaCallback.received_at < func.now() - text("interval '1 minute'"),
            )
            .distinct()
        )
        await defer_many(s, [_drain_job(tenant_id) for tenant_id in rows.scalars()])


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


@periodic("*/5 * * * *", name="savings.reconcile_stk")
async def reconcile_stk(timestamp: int) -> None:
    """Settle STK pushes stuck in "initiated" (callback lost) by asking M-Pesa."""
    from ludus.savings import reconcile

    report = await reconcile.reconcile_all(get_database())
    if report.settled or report.adopted or report.errors:
        log.info("savings_stk_reconciled", **vars(report))
