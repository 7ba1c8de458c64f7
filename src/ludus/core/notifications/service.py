"""Send notifications: `notify` (templated, preference-aware, delivered by jobs) and
`send_now` (one message through the provider immediately, for OTPs and auth mail)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import User
from ludus.core.kit import clock
from ludus.core.kit.errors import NotFound
from ludus.core.notifications import config, delivery, preferences, templates
from ludus.core.notifications.models import (
    Channel,
    MessageStatus,
    NotificationMessage,
    PushDevice,
)
from ludus.core.notifications.providers import OutgoingMessage, build_provider
from ludus.core.tenancy.models import Tenant

STREAM_CHANNEL = "ludus_notifications"
REDACTED = "[one-time code redacted]"


async def announce(session: AsyncSession, messages: list[NotificationMessage]) -> None:
    """Tell live streams about new in-app messages; NOTIFY is sent only if the caller commits."""
    for message in messages:
        if message.channel == Channel.in_app and message.user_id is not None:
            await session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {
                    "channel": STREAM_CHANNEL,
                    "payload": f"{message.tenant_id}:{message.user_id}:{message.id}",
                },
            )


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
    """Deliver immediately through the tenant's provider for `channel` (OTPs, auth mail)."""
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
    tenant = await session.get(Tenant, tenant_id)
    try:
        provider = build_provider(tenant, channel)
        result = await provider.send(
            OutgoingMessage(
                channel=channel,
                recipient=recipient,
                subject=subject,
                body=body,
                reference=str(message.id),
            )
        )
    except Exception as exc:  # a provider failure is recorded, not raised into the caller
        message.status = MessageStatus.failed
        message.error = f"{type(exc).__name__}: {exc}"[:2000]
    else:
        message.status = (
            MessageStatus.delivered if channel == Channel.in_app else MessageStatus.sent
        )
        message.provider = result.provider
        message.provider_message_id = result.provider_message_id
        message.sent_at = clock.utcnow()
    if kind.split(".", 1)[0] == "otp" and config.provider_name(tenant, channel) != "sandbox":
        # A real provider has the code now; do not keep it readable in the message log.
        message.body = REDACTED
    message.status_updated_at = clock.utcnow()
    session.add(message)
    await session.flush()
    await announce(session, [message])
    return message


async def recipients_for(
    session: AsyncSession, tenant_id: uuid.UUID, user: User, channel: Channel
) -> list[str]:
    if channel == Channel.in_app:
        return [str(user.id)]
    if channel == Channel.email:
        return [user.email] if user.email else []
    if channel in (Channel.sms, Channel.whatsapp):
        return [user.phone] if user.phone else []
    tokens = await session.scalars(
        select(PushDevice.token)
        .where(PushDevice.tenant_id == tenant_id, PushDevice.user_id == user.id)
        .order_by(PushDevice.created_at)
    )
    return list(tokens)


async def notify(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    template_key: str,
    context: dict[str, Any],
    channels: list[Channel] | None = None,
    dedupe_key: str | None = None,
) -> list[NotificationMessage]:
    """Render `template_key` for the user on each channel (default: every channel that has a
    template), honour their preferences and quiet hours, and write the messages in the
    caller's transaction with their delivery jobs. In-app messages are delivered at once.

    Returns the rows written, including `skipped` ones (opted out, no address). With a
    `dedupe_key` (an event id, say) a second call writes nothing for recipients already done.
    """
    tenant = await session.get(Tenant, tenant_id)
    user = await session.get(User, user_id)
    if tenant is None or user is None:
        raise NotFound("Unknown tenant or user.", details={"user_id": str(user_id)})
    if channels is None:
        channels = await templates.channels_with_template(
            session, tenant_id=tenant_id, key=template_key
        )
        if not channels:
            raise templates.TemplateNotFound(details={"template_key": template_key})
    locales = templates.locale_chain(user.locale, tenant.default_locale)
    disabled = await preferences.disabled_channels(
        session, tenant_id=tenant_id, user_id=user_id, kind=kind
    )
    quiet = None
    if not preferences.is_urgent(kind):
        quiet = await preferences.quiet_hours(session, tenant=tenant, user_id=user_id)
    now = clock.utcnow()
    rows: list[dict[str, Any]] = []
    for channel in dict.fromkeys(channels):
        source = await templates.find_template(
            session, tenant_id=tenant_id, key=template_key, channel=channel, locales=locales
        )
        if source is None:
            raise templates.TemplateNotFound(
                details={"template_key": template_key, "channel": channel.value}
            )
        rendered = templates.render(
            source, context, tenant=tenant, timezone=user.timezone, locale=user.locale
        )
        due = now
        if quiet is not None and channel not in preferences.QUIET_EXEMPT:
            due = quiet.until(now, user.timezone) or now
        recipients = await recipients_for(session, tenant_id, user, channel)
        reason = "opted_out" if channel in disabled else None if recipients else "no_recipient"
        rows.extend(
            message_rows(
                tenant_id=tenant_id, user_id=user_id, kind=kind, template_key=template_key,
                channel=channel, rendered=rendered, recipients=recipients, reason=reason,
                due=due, now=now, dedupe_key=dedupe_key,
            )
        )  # fmt: skip
    if not rows:
        return []
    stmt = insert(NotificationMessage).values(rows)
    if dedupe_key is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=["tenant_id", "dedupe_key", "channel", "recipient"],
            index_where=NotificationMessage.dedupe_key.is_not(None),
        )
    written = list(await session.scalars(stmt.returning(NotificationMessage)))
    await announce(session, written)
    by_time: dict[Any, list[uuid.UUID]] = {}
    for message in written:
        if message.status == MessageStatus.queued:
            by_time.setdefault(message.next_attempt_at, []).append(message.id)
    for at, ids in by_time.items():
        await delivery.schedule(session, ids, at if at is not None and at > now else None)
    return written


def message_rows(
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    template_key: str,
    channel: Channel,
    rendered: templates.Rendered,
    recipients: list[str],
    reason: str | None,
    due: datetime,
    now: datetime,
    dedupe_key: str | None,
) -> list[dict[str, Any]]:
    """The message rows for one user on one channel (one per address; `reason` skips)."""
    data: dict[str, Any] = {"html": True} if rendered.html else {}
    if due > now:
        data["deferred_for"] = "quiet_hours"
    rows = []
    for recipient in recipients or [""]:
        status = MessageStatus.queued
        if reason:
            status = MessageStatus.skipped
        elif channel == Channel.in_app:
            status = MessageStatus.delivered
        rows.append(
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "user_id": user_id,
                "channel": channel,
                "kind": kind,
                "recipient": recipient,
                "subject": rendered.subject,
                "body": rendered.body,
                "data": data,
                "status": status,
                "provider": "in_app" if status == MessageStatus.delivered else None,
                "attempts": 0,
                "error": reason,
                "sent_at": now if status == MessageStatus.delivered else None,
                "next_attempt_at": due if status == MessageStatus.queued else None,
                "template_key": template_key,
                "locale": rendered.locale,
                "dedupe_key": dedupe_key,
                "status_updated_at": now,
            }
        )
    return rows
