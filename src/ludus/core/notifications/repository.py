"""Notification queries, always scoped by tenant (RLS scopes them again)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.notifications.models import (
    Channel,
    MessageStatus,
    NotificationMessage,
    NotificationPreference,
    NotificationSettings,
    NotificationTemplate,
    PushDevice,
)


def _inbox(tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[ColumnElement[bool]]:
    return [
        NotificationMessage.tenant_id == tenant_id,
        NotificationMessage.user_id == user_id,
        NotificationMessage.channel == Channel.in_app,
        NotificationMessage.status != MessageStatus.skipped,
    ]


async def list_inbox(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    unread_only: bool,
    offset: int,
    limit: int,
) -> tuple[Sequence[NotificationMessage], int]:
    where = _inbox(tenant_id, user_id)
    if unread_only:
        where.append(NotificationMessage.read_at.is_(None))
    total = await session.scalar(select(func.count()).where(*where)) or 0
    rows = await session.scalars(
        select(NotificationMessage)
        .where(*where)
        .order_by(NotificationMessage.created_at.desc(), NotificationMessage.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), total


async def unread_count(session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    where = [*_inbox(tenant_id, user_id), NotificationMessage.read_at.is_(None)]
    return await session.scalar(select(func.count()).where(*where)) or 0


async def get_inbox_message(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, message_id: uuid.UUID
) -> NotificationMessage | None:
    return await session.scalar(
        select(NotificationMessage).where(
            NotificationMessage.id == message_id, *_inbox(tenant_id, user_id)
        )
    )


async def inbox_messages(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    ids: Sequence[uuid.UUID] = (),
    after: datetime | None = None,
    limit: int = 100,
) -> Sequence[NotificationMessage]:
    """The user's in-app messages with these ids, or created after `after` (oldest first)."""
    query = select(NotificationMessage).where(*_inbox(tenant_id, user_id))
    if ids:
        query = query.where(NotificationMessage.id.in_(ids))
    if after is not None:
        query = query.where(NotificationMessage.created_at > after)
    rows = await session.scalars(
        query.order_by(NotificationMessage.created_at, NotificationMessage.id).limit(limit)
    )
    return rows.all()


async def mark_all_read(session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    result = await session.execute(
        update(NotificationMessage)
        .where(*_inbox(tenant_id, user_id), NotificationMessage.read_at.is_(None))
        .values(read_at=clock.utcnow())
        .returning(NotificationMessage.id)
    )
    return len(result.all())


async def list_messages(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    filters: dict[str, Any],
    offset: int,
    limit: int,
) -> tuple[Sequence[NotificationMessage], int]:
    query = select(NotificationMessage)
    if tenant_id is not None:
        query = query.where(NotificationMessage.tenant_id == tenant_id)
    for name in ("channel", "recipient", "kind", "status", "user_id"):
        value = filters.get(name)
        if value is not None:
            query = query.where(getattr(NotificationMessage, name) == value)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(NotificationMessage.created_at.desc(), NotificationMessage.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), total


async def find_by_provider_id(
    session: AsyncSession, *, tenant_id: uuid.UUID, provider: str, provider_message_id: str
) -> NotificationMessage | None:
    return await session.scalar(
        select(NotificationMessage)
        .where(
            NotificationMessage.tenant_id == tenant_id,
            NotificationMessage.provider == provider,
            NotificationMessage.provider_message_id == provider_message_id,
        )
        .with_for_update()
    )


async def list_preferences(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[Sequence[NotificationPreference], NotificationSettings | None]:
    prefs = await session.scalars(
        select(NotificationPreference)
        .where(
            NotificationPreference.tenant_id == tenant_id,
            NotificationPreference.user_id == user_id,
        )
        .order_by(NotificationPreference.kind, NotificationPreference.channel)
    )
    return prefs.all(), await session.get(NotificationSettings, (tenant_id, user_id))


async def list_templates(
    session: AsyncSession, *, tenant_id: uuid.UUID | None, key: str | None, offset: int, limit: int
) -> tuple[Sequence[NotificationTemplate], int]:
    query = select(NotificationTemplate).where(NotificationTemplate.tenant_id == tenant_id)
    if tenant_id is None:
        query = select(NotificationTemplate).where(NotificationTemplate.tenant_id.is_(None))
    if key:
        query = query.where(NotificationTemplate.key == key)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(
            NotificationTemplate.key, NotificationTemplate.channel, NotificationTemplate.locale
        )
        .offset(offset)
        .limit(limit)
    )
    return rows.all(), total


async def get_device(
    session: AsyncSession, *, tenant_id: uuid.UUID, token: str
) -> PushDevice | None:
    return await session.scalar(
        select(PushDevice).where(PushDevice.tenant_id == tenant_id, PushDevice.token == token)
    )
