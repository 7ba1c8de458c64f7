"""Changes users and admins make: templates, push devices, read marks, provider statuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.errors import NotFound
from ludus.core.notifications import repository, templates
from ludus.core.notifications.models import (
    Channel,
    MessageStatus,
    NotificationMessage,
    NotificationTemplate,
    PushDevice,
)

# Order in which provider reports may move a message forward; `failed` never overrides
# `delivered`, and a late `sent` never undoes either.
_RANK = {
    MessageStatus.queued: 0,
    MessageStatus.sent: 1,
    MessageStatus.failed: 2,
    MessageStatus.delivered: 3,
}
MAX_STATUS_HISTORY = 20


async def upsert_template(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    key: str,
    channel: Channel,
    locale: str,
    subject: str | None,
    body: str,
) -> NotificationTemplate:
    """Create or replace a template; refuses one that does not parse."""
    templates.check_syntax(body, html=channel == Channel.email)
    if subject:
        templates.check_syntax(subject, html=False)
    stmt = insert(NotificationTemplate).values(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        key=key,
        channel=channel.value,
        locale=templates.normalize_locale(locale),
        subject=subject,
        body=body,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "key", "channel", "locale"],
        set_={"subject": subject, "body": body, "updated_at": datetime.now(UTC)},
    )
    row = await session.scalar(stmt.returning(NotificationTemplate))
    assert row is not None
    await session.refresh(row)
    return row


async def delete_template(
    session: AsyncSession, *, tenant_id: uuid.UUID | None, template_id: uuid.UUID
) -> None:
    cond = (
        NotificationTemplate.tenant_id.is_(None)
        if tenant_id is None
        else NotificationTemplate.tenant_id == tenant_id
    )
    result = await session.execute(
        delete(NotificationTemplate)
        .where(NotificationTemplate.id == template_id, cond)
        .returning(NotificationTemplate.id)
    )
    if result.scalar_one_or_none() is None:
        raise NotFound("Template not found.")


async def register_device(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, token: str, platform: str
) -> PushDevice:
    """A device token belongs to whoever registered it last (phones change hands)."""
    stmt = insert(PushDevice).values(
        id=uuid.uuid4(), tenant_id=tenant_id, user_id=user_id, token=token, platform=platform
    )
    stmt = stmt.on_conflict_do_update(
        constraint="uq_notification_push_devices_tenant_id_token",
        set_={"user_id": user_id, "platform": platform, "updated_at": datetime.now(UTC)},
    )
    row = await session.scalar(stmt.returning(PushDevice))
    assert row is not None
    return row


async def remove_device(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, token: str
) -> bool:
    result = await session.execute(
        delete(PushDevice)
        .where(
            PushDevice.tenant_id == tenant_id,
            PushDevice.user_id == user_id,
            PushDevice.token == token,
        )
        .returning(PushDevice.id)
    )
    return result.scalar_one_or_none() is not None


async def mark_read(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, message_id: uuid.UUID
) -> NotificationMessage:
    message = await repository.get_inbox_message(
        session, tenant_id=tenant_id, user_id=user_id, message_id=message_id
    )
    if message is None:
        raise NotFound("Notification not found.")
    if message.read_at is None:
        message.read_at = clock.utcnow()
        await session.flush()
    return message


async def apply_provider_status(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    provider: str,
    provider_message_id: str,
    status: MessageStatus | None,
    raw_status: str,
    error: str | None = None,
) -> NotificationMessage | None:
    """Record a provider's delivery report. Unknown ids are ignored (None); repeated or
    out-of-order reports never move a message backwards."""
    message = await repository.find_by_provider_id(
        session, tenant_id=tenant_id, provider=provider, provider_message_id=provider_message_id
    )
    if message is None:
        return None
    history: list[dict[str, Any]] = list(message.data.get("provider_statuses") or [])
    history.append({"status": raw_status, "at": clock.utcnow().isoformat(), "error": error})
    message.data = {**message.data, "provider_statuses": history[-MAX_STATUS_HISTORY:]}
    current = MessageStatus(message.status)
    if status is not None and _RANK.get(status, -1) > _RANK.get(current, 99):
        message.status = status
        message.status_updated_at = clock.utcnow()
        message.next_attempt_at = None
        if status == MessageStatus.failed:
            message.error = error or raw_status
    await session.flush()
    return message
