"""Send a message on a channel and keep a record of it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.notifications.models import Channel, MessageStatus, NotificationMessage
from ludus.core.notifications.providers import OutgoingMessage, provider_for


async def send_now(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    channel: Channel,
    recipient: str,
    body: str,
    kind: str,
    subject: str | None = None,
    user_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> NotificationMessage:
    """Deliver immediately through the channel's provider (used for OTPs and auth mail)."""
    message = NotificationMessage(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        channel=channel,
        kind=kind,
        recipient=recipient,
        subject=subject,
        body=body,
        data=data or {},
        status=MessageStatus.queued,
        attempts=1,
    )
    try:
        result = await provider_for(channel).send(
            OutgoingMessage(channel=channel, recipient=recipient, subject=subject, body=body)
        )
    except Exception as exc:  # a provider failure is recorded, not raised into the caller
        message.status = MessageStatus.failed
        message.error = f"{type(exc).__name__}: {exc}"[:2000]
    else:
        message.status = MessageStatus.sent
        message.provider = result.provider
        message.provider_message_id = result.provider_message_id
        message.sent_at = clock.utcnow()
    session.add(message)
    await session.flush()
    return message
