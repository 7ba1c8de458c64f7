"""Receive provider callbacks: verify, keep the raw body, de-duplicate, process in a job."""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.jobs.defer import defer
from ludus.core.jobs.registry import Backoff
from ludus.core.kit import crypto
from ludus.core.kit.clock import utcnow
from ludus.core.kit.db import Database, set_tenant
from ludus.core.kit.errors import NotFound, error_code
from ludus.core.tenancy import repository as tenant_repo
from ludus.core.tenancy.service import get_by_slug_or_404
from ludus.core.webhooks.models import InboundStatus, InboundWebhook, ProviderConfig
from ludus.core.webhooks.providers import PROCESSORS, PROVIDERS, InboundRequest

PROCESS_TASK = "webhooks.process_inbound"
QUEUE = "webhooks"
PROCESS_RETRY = Backoff(max_tries=5, base_seconds=10, factor=3)
SECRET_PURPOSE = "webhooks.provider"
DROPPED_HEADERS = frozenset({"authorization", "cookie", "x-api-key"})

UnknownProvider = error_code(404, "UNKNOWN_WEBHOOK_PROVIDER", "This webhook provider is unknown.")
NotConfigured = error_code(
    404, "WEBHOOK_NOT_CONFIGURED", "This tenant has no webhook set up for this provider."
)
EventIdMissing = error_code(
    400, "WEBHOOK_EVENT_ID_MISSING", "The callback does not carry an event id."
)


@dataclass(frozen=True)
class Received:
    webhook_id: uuid.UUID | None
    duplicate: bool


async def receive(
    session: AsyncSession, *, provider_name: str, tenant_slug: str, request: InboundRequest
) -> Received:
    """Verify and record one callback in the caller's transaction; nothing is written unless
    the signature (or source) checks out."""
    provider = PROVIDERS.get(provider_name)
    if provider is None:
        raise UnknownProvider(details={"provider": provider_name})
    tenant = await get_by_slug_or_404(session, tenant_slug.lower())
    tenant_repo.ensure_active(tenant)
    await set_tenant(session, tenant.id)
    config = await get_config(session, tenant.id, provider_name)
    if config is None or not config.active:
        raise NotConfigured(details={"provider": provider_name})
    secret = crypto.decrypt(config.secret_enc, purpose=SECRET_PURPOSE)
    provider.verify(request, secret, config.options)
    event_id = provider.event_id(request)
    if not event_id:
        raise EventIdMissing(details={"provider": provider_name})
    webhook_id = uuid.uuid4()
    inserted = await session.scalar(
        insert(InboundWebhook)
        .values(
            id=webhook_id,
            tenant_id=tenant.id,
            provider=provider_name,
            provider_event_id=event_id[:255],
            event_type=(provider.event_type(request) or "")[:100] or None,
            headers={k: v for k, v in request.headers.items() if k not in DROPPED_HEADERS},
            body=request.body,
            content_type=request.content_type,
            source_ip=request.client_ip,
            status=InboundStatus.received,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
        .returning(InboundWebhook.id)
    )
    if inserted is None:
        return Received(webhook_id=None, duplicate=True)
    await defer(session, PROCESS_TASK, args=_job_args(webhook_id, tenant.id), queue=QUEUE)
    return Received(webhook_id=webhook_id, duplicate=False)


def _job_args(webhook_id: uuid.UUID, tenant_id: uuid.UUID) -> dict[str, Any]:
    return {"webhook_id": str(webhook_id), "tenant_id": str(tenant_id)}


async def process(db: Database, webhook_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
    """Run the provider's processor and mark the callback processed, in one transaction."""
    async with db.session(tenant_id=tenant_id) as session:
        row = (
            await session.execute(
                select(InboundWebhook).where(InboundWebhook.id == webhook_id).with_for_update()
            )
        ).scalar_one_or_none()
        if row is None or row.status == InboundStatus.processed:
            return
        handle = PROCESSORS.get(row.provider)
        if handle is not None:
            await handle(session, row)
        row.status = InboundStatus.processed
        row.attempts += 1
        row.processed_at = utcnow()
        row.last_error = None


async def record_failure(
    db: Database, webhook_id: uuid.UUID, tenant_id: uuid.UUID, exc: BaseException, *, final: bool
) -> None:
    values: dict[str, Any] = {
        "attempts": InboundWebhook.attempts + 1,
        "last_error": "".join(traceback.format_exception_only(exc)).strip()[:4000],
    }
    if final:
        values["status"] = InboundStatus.failed
    async with db.session(tenant_id=tenant_id) as session:
        await session.execute(
            update(InboundWebhook).where(InboundWebhook.id == webhook_id).values(**values)
        )


async def replay(
    session: AsyncSession, tenant_id: uuid.UUID, webhook_id: uuid.UUID
) -> InboundWebhook:
    """Process a stored callback again (processors are idempotent)."""
    row = (
        await session.execute(
            select(InboundWebhook)
            .where(InboundWebhook.id == webhook_id, InboundWebhook.tenant_id == tenant_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("Webhook not found.", details={"id": str(webhook_id)})
    row.status = InboundStatus.received
    await session.flush()
    await defer(session, PROCESS_TASK, args=_job_args(row.id, tenant_id), queue=QUEUE)
    return row


async def get_config(
    session: AsyncSession, tenant_id: uuid.UUID, provider: str
) -> ProviderConfig | None:
    return (
        await session.execute(
            select(ProviderConfig).where(
                ProviderConfig.tenant_id == tenant_id, ProviderConfig.provider == provider
            )
        )
    ).scalar_one_or_none()


async def set_config(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    provider: str,
    *,
    secret: str,
    options: dict[str, Any],
    active: bool = True,
) -> ProviderConfig:
    if provider not in PROVIDERS:
        raise UnknownProvider(details={"provider": provider})
    config = await get_config(session, tenant_id, provider)
    if config is None:
        config = ProviderConfig(id=uuid.uuid4(), tenant_id=tenant_id, provider=provider)
        session.add(config)
    config.secret_enc = crypto.encrypt(secret, purpose=SECRET_PURPOSE)
    config.options = options
    config.active = active
    await session.flush()
    return config


async def list_configs(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[ProviderConfig]:
    rows = await session.execute(
        select(ProviderConfig)
        .where(ProviderConfig.tenant_id == tenant_id)
        .order_by(ProviderConfig.provider)
    )
    return rows.scalars().all()


async def list_inbound(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    provider: str | None,
    status: InboundStatus | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[InboundWebhook], int]:
    query = select(InboundWebhook).where(InboundWebhook.tenant_id == tenant_id)
    if provider:
        query = query.where(InboundWebhook.provider == provider)
    if status is not None:
        query = query.where(InboundWebhook.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(InboundWebhook.received_at.desc(), InboundWebhook.id)
        .offset(offset)
        .limit(limit)
    )
    return rows.scalars().all(), total
