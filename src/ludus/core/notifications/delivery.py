"""Delivery of queued messages, one attempt at a time, with the retry policy.

`deliver(message_id)` is the job entry point. It claims the message in a short transaction
(a lease in `next_attempt_at`, and `attempts + 1`), calls the provider with no transaction
open, then records the outcome in another short transaction: sent; or, on a transient
failure, a retry scheduled after an exponential backoff; or failed after the last try (or at
once on a permanent error). A claim whose worker died expires, and the periodic sweep
(`deliver_due`) tries the message again.
"""

from __future__ import annotations

import asyncio
import enum
import html
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.jobs.defer import JobSpec, defer_many
from ludus.core.kit import clock, driver
from ludus.core.kit.db import Database, get_database
from ludus.core.notifications.config import get_notify_settings
from ludus.core.notifications.models import (
    Channel,
    MessageStatus,
    NotificationMessage,
    PushDevice,
)
from ludus.core.notifications.providers import (
    OutgoingMessage,
    ProviderError,
    SendResult,
    build_provider,
)
from ludus.core.tenancy.models import Tenant

log = structlog.get_logger("ludus.notifications")

DELIVER_TASK = "notifications.deliver"
DELIVER_BATCH_TASK = "notifications.deliver_batch"
BATCH = 50  # messages per batch job; their leases start together, so keep it modest
SEND_CONCURRENCY = 10  # provider calls in flight per batch job
QUEUE = "notifications"
# A job may start slightly before the app's clock says the message is due (clock skew).
DUE_TOLERANCE = timedelta(seconds=2)
# The sweep leaves messages alone until they are this overdue: their own job should run first.
SWEEP_GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_seconds: float = 30.0
    factor: float = 2.0

    def delay(self, attempts_done: int) -> timedelta:
        """Wait after the `attempts_done`-th failed try: base, base·factor, base·factor², ..."""
        return timedelta(seconds=self.base_seconds * self.factor ** max(attempts_done - 1, 0))

    def next_attempt(self, attempts_done: int, now: datetime) -> datetime | None:
        if attempts_done >= self.max_attempts:
            return None
        return now + self.delay(attempts_done)


def default_policy() -> RetryPolicy:
    settings = get_notify_settings()
    return RetryPolicy(
        settings.retry_max_attempts, settings.retry_base_seconds, settings.retry_factor
    )


class Outcome(enum.StrEnum):
    sent = "sent"
    retry = "retry"
    failed = "failed"
    # Not queued any more, or not due yet: its own later job (or the sweep) will send it.
    not_due = "not_due"


async def _claim_due(
    session: AsyncSession, which: ColumnElement[bool], now: datetime
) -> list[NotificationMessage]:
    """Lease the queued, due messages matching `which` (one attempt each) and return them."""
    lease = timedelta(seconds=get_notify_settings().claim_seconds)
    claimed = await session.execute(
        update(NotificationMessage)
        .where(
            which,
            NotificationMessage.status == MessageStatus.queued,
            or_(
                NotificationMessage.next_attempt_at.is_(None),
                NotificationMessage.next_attempt_at <= now + DUE_TOLERANCE,
            ),
        )
        .values(next_attempt_at=now + lease, attempts=NotificationMessage.attempts + 1)
        .returning(NotificationMessage)
    )
    return list(claimed.scalars())


async def schedule(
    session: AsyncSession, message_ids: Sequence[uuid.UUID], at: datetime | None = None
) -> None:
    """Enqueue delivery jobs in the caller's transaction (they exist iff it commits)."""
    await defer_many(
        session,
        [
            JobSpec(DELIVER_TASK, {"message_id": str(i)}, queue=QUEUE, schedule_at=at)
            for i in message_ids
        ],
    )


async def schedule_batches(
    session: AsyncSession, by_time: dict[datetime | None, list[uuid.UUID]]
) -> None:
    """Enqueue batch delivery jobs (up to BATCH messages each) in the caller's transaction."""
    await defer_many(
        session,
        [
            JobSpec(
                DELIVER_BATCH_TASK,
                {"message_ids": [str(i) for i in ids[start : start + BATCH]]},
                queue=QUEUE,
                schedule_at=at,
            )
            for at, ids in by_time.items()
            for start in range(0, len(ids), BATCH)
        ],
    )


_TAGS = re.compile(r"<[^>]+>")
_BLANKS = re.compile(r"\n\s*\n+")


def html_to_text(value: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</h\d>|</li>|</tr>", "\n", value)
    return _BLANKS.sub("\n\n", html.unescape(_TAGS.sub("", text))).strip()


def outgoing(message: NotificationMessage) -> OutgoingMessage:
    return outgoing_of(
        message.id, Channel(message.channel), message.recipient, message.subject, message.body,
        message.data,
    )  # fmt: skip


def outgoing_of(
    message_id: uuid.UUID,
    channel: Channel,
    recipient: str,
    subject: str | None,
    body: str,
    data: dict[str, Any],
) -> OutgoingMessage:
    """What the provider gets for a stored message (its fields given one by one)."""
    is_html = bool(data.get("html"))
    return OutgoingMessage(
        channel=Channel(channel),
        recipient=recipient,
        subject=subject,
        body=html_to_text(body) if is_html else body,
        html=body if is_html else None,
        reference=str(message_id),
        data={k: v for k, v in (data.get("push_data") or {}).items()},
    )


async def deliver(
    message_id: uuid.UUID, *, db: Database | None = None, policy: RetryPolicy | None = None
) -> Outcome:
    db = db or get_database()
    policy = policy or default_policy()
    now = clock.utcnow()
    async with db.session(system=True) as session:
        claimed = await _claim_due(session, NotificationMessage.id == message_id, now)
        message = claimed[0] if claimed else None
        if message is None:
            return Outcome.not_due
        tenant = await session.get(Tenant, message.tenant_id)
        attempt = message.attempts
        request = outgoing(message)
    try:
        result = await build_provider(tenant, request.channel).send(request)
    except Exception as exc:  # any provider failure is recorded; unknown ones count as transient
        permanent = isinstance(exc, ProviderError) and exc.permanent
        error = f"{type(exc).__name__}: {exc}"[:2000]
        retry_at = None if permanent else policy.next_attempt(attempt, now)
        outcome = await _record_failure(db, message_id, attempt, error, retry_at)
        if isinstance(exc, ProviderError) and exc.bad_recipient and request.channel == Channel.push:
            await _forget_device(db, message_id, request.recipient)
        return outcome
    async with db.session(system=True) as session:
        await session.execute(
            update(NotificationMessage)
            .where(
                NotificationMessage.id == message_id,
                NotificationMessage.status == MessageStatus.queued,
                NotificationMessage.attempts == attempt,
            )
            .values(
                status=MessageStatus.sent,
                provider=result.provider,
                provider_message_id=result.provider_message_id,
                sent_at=clock.utcnow(),
                status_updated_at=clock.utcnow(),
                next_attempt_at=None,
                error=None,
            )
        )
    return Outcome.sent


_SENT_MANY = (
    "UPDATE notification_messages AS m SET status = %(sent)s, provider = u.provider,"
    " provider_message_id = u.pid, sent_at = %(now)s, status_updated_at = %(now)s,"
    " next_attempt_at = NULL, error = NULL"
    " FROM unnest(%(ids)s::uuid[], %(attempts)s::integer[], %(providers)s::text[],"
    " %(pids)s::text[]) AS u(id, attempts, provider, pid)"
    " WHERE m.id = u.id AND m.status = %(queued)s AND m.attempts = u.attempts"
)


async def deliver_many(
    message_ids: Sequence[uuid.UUID],
    *,
    db: Database | None = None,
    policy: RetryPolicy | None = None,
) -> dict[uuid.UUID, Outcome]:
    """`deliver` for a batch: one claim and one success update for all of them; provider
    calls run concurrently (at most SEND_CONCURRENCY) with no transaction open, and each
    failure is recorded (and retried) on its own, as `deliver` does."""
    db = db or get_database()
    policy = policy or default_policy()
    outcomes = dict.fromkeys(message_ids, Outcome.not_due)
    if not message_ids:
        return outcomes
    now = clock.utcnow()
    async with db.session(system=True) as session:
        messages = await _claim_due(session, NotificationMessage.id.in_(list(message_ids)), now)
        if not messages:
            return outcomes
        found = await session.scalars(
            select(Tenant).where(Tenant.id.in_({m.tenant_id for m in messages}))
        )
        tenants = {t.id: t for t in found}
        work = [(m.id, m.attempts, tenants.get(m.tenant_id), outgoing(m)) for m in messages]
    await _send_and_record(db, policy, now, work, outcomes)
    return outcomes


async def send_claimed(
    tenant: Tenant | None,
    claimed: Sequence[tuple[uuid.UUID, OutgoingMessage]],
    *,
    db: Database | None = None,
    policy: RetryPolicy | None = None,
) -> dict[uuid.UUID, Outcome]:
    """Send messages written already leased for their first attempt (`bulk.notify_batches`),
    with no transaction open, and record the outcomes as `deliver_many` does: one update
    for the sent ones, a retry or failure for each of the others."""
    db = db or get_database()
    policy = policy or default_policy()
    outcomes = {message_id: Outcome.not_due for message_id, _ in claimed}
    work = [(message_id, 1, tenant, request) for message_id, request in claimed]
    await _send_and_record(db, policy, clock.utcnow(), work, outcomes)
    return outcomes


async def _send_and_record(
    db: Database,
    policy: RetryPolicy,
    now: datetime,
    work: list[tuple[uuid.UUID, int, Tenant | None, OutgoingMessage]],
    outcomes: dict[uuid.UUID, Outcome],
) -> None:
    if not work:
        return
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(tenant: Tenant | None, request: OutgoingMessage) -> SendResult | Exception:
        async with gate:
            try:
                return await build_provider(tenant, request.channel).send(request)
            except Exception as exc:  # recorded below, as in `deliver`
                return exc

    results = await asyncio.gather(*(send(tenant, request) for _, _, tenant, request in work))
    sent = [(w, r) for w, r in zip(work, results, strict=True) if isinstance(r, SendResult)]
    if sent:
        async with db.session(system=True) as session:
            await driver.execute(
                session,
                _SENT_MANY,
                {
                    "ids": [w[0] for w, _ in sent],
                    "attempts": [w[1] for w, _ in sent],
                    "providers": [r.provider for _, r in sent],
                    "pids": [r.provider_message_id for _, r in sent],
                    "now": clock.utcnow(),
                    "sent": MessageStatus.sent.name,
                    "queued": MessageStatus.queued.name,
                },
            )
        for (message_id, _, _, _), _ in sent:
            outcomes[message_id] = Outcome.sent
    for (message_id, attempt, _, request), exc in zip(work, results, strict=True):
        if not isinstance(exc, Exception):
            continue
        permanent = isinstance(exc, ProviderError) and exc.permanent
        error = f"{type(exc).__name__}: {exc}"[:2000]
        retry_at = None if permanent else policy.next_attempt(attempt, now)
        outcomes[message_id] = await _record_failure(db, message_id, attempt, error, retry_at)
        if isinstance(exc, ProviderError) and exc.bad_recipient and request.channel == Channel.push:
            await _forget_device(db, message_id, request.recipient)


async def _record_failure(
    db: Database, message_id: uuid.UUID, attempt: int, error: str, retry_at: datetime | None
) -> Outcome:
    values: dict[str, object] = {"error": error, "status_updated_at": clock.utcnow()}
    if retry_at is None:
        values.update(status=MessageStatus.failed, next_attempt_at=None)
    else:
        values.update(next_attempt_at=retry_at)
    async with db.session(system=True) as session:
        updated = await session.execute(
            update(NotificationMessage)
            .where(
                NotificationMessage.id == message_id,
                NotificationMessage.status == MessageStatus.queued,
                NotificationMessage.attempts == attempt,
            )
            .values(**values)
            .returning(NotificationMessage.id)
        )
        if updated.scalar_one_or_none() is None:
            return Outcome.not_due  # someone else finished it meanwhile
        if retry_at is not None:
            await schedule(session, [message_id], retry_at)
    log.warning(
        "notification_send_failed",
        message_id=str(message_id),
        attempt=attempt,
        retry_at=retry_at.isoformat() if retry_at else None,
        error=error,
    )
    return Outcome.retry if retry_at is not None else Outcome.failed


async def _forget_device(db: Database, message_id: uuid.UUID, token: str) -> None:
    async with db.session(system=True) as session:
        tenant_id = await session.scalar(
            select(NotificationMessage.tenant_id).where(NotificationMessage.id == message_id)
        )
        await session.execute(
            delete(PushDevice).where(PushDevice.tenant_id == tenant_id, PushDevice.token == token)
        )


async def deliver_due(*, db: Database | None = None, limit: int = 200) -> int:
    """Backstop sweep: try queued messages whose time is well past (lost jobs, dead workers)."""
    db = db or get_database()
    cutoff = clock.utcnow() - SWEEP_GRACE
    async with db.session(system=True) as session:
        ids = list(
            await session.scalars(
                select(NotificationMessage.id)
                .where(
                    NotificationMessage.status == MessageStatus.queued,
                    NotificationMessage.next_attempt_at <= cutoff,
                )
                .order_by(NotificationMessage.next_attempt_at)
                .limit(limit)
            )
        )
    for message_id in ids:
        await deliver(message_id, db=db)
    return len(ids)
