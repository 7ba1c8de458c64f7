"""Outbound webhooks: tenant subscriptions, fan-out of events to deliveries, and the signed
HTTP POST of one delivery with its attempt log."""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus import __version__
from ludus.core.events.models import OutboxEvent
from ludus.core.events.registry import match_pattern
from ludus.core.events.schemas import Event, EventMetadata
from ludus.core.jobs.defer import JobSpec, defer_many
from ludus.core.jobs.registry import Backoff
from ludus.core.kit import crypto
from ludus.core.kit.clock import utcnow
from ludus.core.kit.db import Database
from ludus.core.kit.errors import NotFound, ValidationFailed, error_code
from ludus.core.kit.settings import get_settings
from ludus.core.webhooks import signing
from ludus.core.webhooks.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Subscription,
)

DELIVER_TASK = "webhooks.deliver"
QUEUE = "webhooks"
DELIVERY_RETRY = Backoff(max_tries=6, base_seconds=30, factor=3)
SECRET_PURPOSE = "webhooks.subscription"
TIMEOUT_SECONDS = 10.0
MAX_ERROR_CHARS = 1000


DeliveryNotFailed = error_code(
    409, "DELIVERY_NOT_FAILED", "Only a failed delivery can be sent again."
)


class DeliveryFailed(Exception):
    """The endpoint did not answer 2xx; the job engine retries with backoff."""


def new_secret() -> str:
    return "whsec_" + crypto.new_token(32)


def check_url(url: str) -> None:
    """http(s) only; in production, https to a public host only (no SSRF into the network)."""
    parts = urlsplit(url)
    production = get_settings().env == "production"
    allowed_schemes = {"https"} if production else {"http", "https"}
    if parts.scheme not in allowed_schemes or not parts.hostname:
        raise ValidationFailed("The webhook URL must be an absolute http(s) URL.")
    if production:
        host = parts.hostname
        try:
            private = not ipaddress.ip_address(host).is_global
        except ValueError:
            private = host == "localhost" or host.endswith((".local", ".internal"))
        if private:
            raise ValidationFailed("The webhook URL must point to a public host.")


async def create_subscription(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    url: str,
    event_types: list[str],
    description: str | None,
) -> tuple[Subscription, str]:
    check_url(url)
    secret = new_secret()
    sub = Subscription(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        url=url,
        event_types=sorted(set(event_types)),
        secret_enc=crypto.encrypt(secret, purpose=SECRET_PURPOSE),
        description=description,
        active=True,
    )
    session.add(sub)
    await session.flush()
    return sub, secret


async def get_subscription(
    session: AsyncSession, tenant_id: uuid.UUID, subscription_id: uuid.UUID
) -> Subscription:
    sub = (
        await session.execute(
            select(Subscription).where(
                Subscription.id == subscription_id,
                Subscription.tenant_id == tenant_id,
                Subscription.deleted_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    if sub is None:
        raise NotFound("Webhook subscription not found.", details={"id": str(subscription_id)})
    return sub


async def list_subscriptions(
    session: AsyncSession, tenant_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[Sequence[Subscription], int]:
    query = select(Subscription).where(
        Subscription.tenant_id == tenant_id, Subscription.deleted_at.is_(None)
    )
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Subscription.created_at.desc(), Subscription.id).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total


async def rotate_secret(session: AsyncSession, sub: Subscription) -> str:
    secret = new_secret()
    sub.secret_enc = crypto.encrypt(secret, purpose=SECRET_PURPOSE)
    await session.flush()
    return secret


async def delete_subscription(session: AsyncSession, sub: Subscription) -> None:
    """Soft delete: the delivery log keeps pointing at it."""
    sub.active = False
    sub.deleted_at = utcnow()
    await session.flush()
    await session.refresh(sub)


async def list_deliveries(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    subscription_id: uuid.UUID | None,
    status: DeliveryStatus | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[Delivery], int]:
    query = select(Delivery).where(Delivery.tenant_id == tenant_id)
    if subscription_id is not None:
        query = query.where(Delivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(Delivery.created_at.desc(), Delivery.id).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total


async def get_delivery(
    session: AsyncSession, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> tuple[Delivery, Sequence[DeliveryAttempt]]:
    delivery = (
        await session.execute(
            select(Delivery).where(Delivery.id == delivery_id, Delivery.tenant_id == tenant_id)
        )
    ).scalar_one_or_none()
    if delivery is None:
        raise NotFound("Webhook delivery not found.", details={"id": str(delivery_id)})
    attempts = await session.execute(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery_id)
        .order_by(DeliveryAttempt.attempt)
    )
    return delivery, attempts.scalars().all()


async def redeliver(session: AsyncSession, delivery: Delivery) -> Delivery:
    """Queue a failed delivery again with fresh tries."""
    if delivery.status != DeliveryStatus.failed:
        raise DeliveryNotFailed(details={"id": str(delivery.id), "status": str(delivery.status)})
    delivery.status = DeliveryStatus.pending
    delivery.completed_at = None
    await session.flush()
    await defer_many(session, [_deliver_job(delivery.id, delivery.tenant_id)])
    return delivery


def _deliver_job(delivery_id: uuid.UUID, tenant_id: uuid.UUID) -> JobSpec:
    return JobSpec(
        DELIVER_TASK, {"delivery_id": str(delivery_id), "tenant_id": str(tenant_id)}, QUEUE
    )


async def has_subscriptions(
    session: AsyncSession, event_type: str, tenant_id: uuid.UUID | None
) -> bool:
    """Cheap pre-check at emit time: only tenants with an active subscription get a fan-out."""
    if tenant_id is None:
        return False
    found = await session.scalar(
        select(Subscription.id)
        .where(
            Subscription.tenant_id == tenant_id,
            Subscription.active.is_(True),
            Subscription.deleted_at.is_(None),
        )
        .limit(1)
    )
    return found is not None


async def fan_out(session: AsyncSession, event: Event) -> int:
    """One delivery per active subscription of the event's tenant that wants its type."""
    if event.tenant_id is None:
        return 0
    subs = (
        await session.execute(
            select(Subscription.id, Subscription.event_types).where(
                Subscription.tenant_id == event.tenant_id,
                Subscription.active.is_(True),
                Subscription.deleted_at.is_(None),
            )
        )
    ).all()
    wanted = [s.id for s in subs if any(match_pattern(p, event.event_type) for p in s.event_types)]
    jobs = []
    for sub_id in wanted:
        delivery_id = await session.scalar(
            insert(Delivery)
            .values(
                id=uuid.uuid4(),
                tenant_id=event.tenant_id,
                subscription_id=sub_id,
                event_id=event.event_id,
                event_type=event.event_type,
                status=DeliveryStatus.pending,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
            .returning(Delivery.id)
        )
        if delivery_id is not None:
            jobs.append(_deliver_job(delivery_id, event.tenant_id))
    await defer_many(session, jobs)
    return len(jobs)


def event_body(row: OutboxEvent) -> bytes:
    event = Event(
        event_id=row.id,
        event_type=row.event_type,
        version=row.version,
        timestamp=row.occurred_at,
        source=row.source,
        tenant_id=row.tenant_id,
        data=row.data,
        metadata=EventMetadata.model_validate(row.event_metadata),
    )
    return orjson.dumps(event.model_dump(mode="json"))


async def deliver(
    db: Database, delivery_id: uuid.UUID, tenant_id: uuid.UUID, *, last_try: bool
) -> None:
    """POST the event, log the attempt; raise `DeliveryFailed` on anything but 2xx."""
    async with db.session(tenant_id=tenant_id) as session:
        delivery = await session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.pending:
            return
        sub = await session.get(Subscription, delivery.subscription_id)
        event = await session.get(OutboxEvent, delivery.event_id)
        if sub is None or event is None or not sub.active or sub.deleted_at is not None:
            delivery.status = DeliveryStatus.failed
            delivery.last_error = "subscription disabled"
            delivery.completed_at = utcnow()
            return
        url, secret, body = (
            sub.url,
            crypto.decrypt(sub.secret_enc, purpose=SECRET_PURPOSE),
            event_body(event),
        )
    status_code, error, latency_ms = await _post(
        url, secret, body, delivery_id, event.event_type, event.id
    )
    ok = status_code is not None and 200 <= status_code < 300
    async with db.session(tenant_id=tenant_id) as session:
        delivery = await session.get(Delivery, delivery_id, with_for_update=True)
        if delivery is None:
            return
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error
        session.add(
            DeliveryAttempt(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                delivery_id=delivery_id,
                attempt=delivery.attempts,
                status_code=status_code,
                latency_ms=latency_ms,
                error=error,
            )
        )
        if ok or last_try:
            delivery.status = DeliveryStatus.succeeded if ok else DeliveryStatus.failed
            delivery.completed_at = utcnow()
    if not ok:
        raise DeliveryFailed(error or f"HTTP {status_code}")


async def _post(
    url: str, secret: str, body: bytes, delivery_id: uuid.UUID, event_type: str, event_id: uuid.UUID
) -> tuple[int | None, str | None, int]:
    headers: dict[str, Any] = {
        "Content-Type": "application/json",
        "User-Agent": f"Ludus-Webhooks/{__version__}",
        signing.SIGNATURE_HEADER: signing.signature_header(secret, body),
        "Ludus-Event-Id": str(event_id),
        "Ludus-Event-Type": event_type,
        "Ludus-Delivery-Id": str(delivery_id),
    }
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], _ms(started)
    error = None if response.is_success else f"HTTP {response.status_code}: {response.text[:200]}"
    return response.status_code, error, _ms(started)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
