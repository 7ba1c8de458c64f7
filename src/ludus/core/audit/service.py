"""Record and query audit events. Services call `record` inside their own transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit.models import AuditEvent
from ludus.core.kit import context


async def record(
    session: AsyncSession,
    *,
    action: str,
    tenant_id: uuid.UUID | None,
    actor_user_id: uuid.UUID | None = None,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        actor_user_id=actor_user_id,
        actor=actor or (f"user:{actor_user_id}" if actor_user_id else "system"),
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        before=before,
        after=after,
        request_id=context.request_id(),
        ip=context.client_ip(),
    )
    session.add(event)
    await session.flush()
    return event


async def list_events(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    action: str | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[AuditEvent], int]:
    query = select(AuditEvent)
    if tenant_id is not None:
        query = query.where(AuditEvent.tenant_id == tenant_id)
    if action:
        query = query.where(AuditEvent.action == action)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(AuditEvent.created_at.desc(), AuditEvent.id).offset(offset).limit(limit)
    )
    return rows.scalars().all(), total
