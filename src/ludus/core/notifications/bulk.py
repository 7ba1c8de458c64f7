"""`notify_many`: one kind of message to many users in a fixed number of statements.

Each recipient gets exactly what `notify` would write for them (template in their locale,
their opt-outs and quiet hours, their addresses, the dedupe key), but the users, their
preferences, quiet hours and push devices are read with one query each, the templates are
looked up once per locale chain, the messages go in with one insert, and each
delivery job carries up to `delivery.BATCH` messages (`notifications.deliver_batch`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import User
from ludus.core.kit import clock
from ludus.core.kit.errors import NotFound
from ludus.core.notifications import delivery, preferences, templates
from ludus.core.notifications.models import (
    Channel,
    MessageStatus,
    NotificationMessage,
    PushDevice,
)
from ludus.core.notifications.service import STREAM_CHANNEL, message_rows
from ludus.core.tenancy.models import Tenant


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    context: dict[str, Any]
    dedupe_key: str | None = None


_ANNOUNCE = text("SELECT count(pg_notify(:channel, p)) FROM unnest(CAST(:payloads AS text[])) AS p")


async def notify_many(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: str,
    template_key: str,
    recipients: Sequence[Recipient],
    channels: list[Channel] | None = None,
    schedule: bool = True,
) -> list[NotificationMessage]:
    """`notify` for each recipient, in the caller's transaction; returns the rows written
    (a recipient whose dedupe key was already used gets nothing new).

    With `schedule=False` the caller queues delivery itself with `schedule_delivery`, e.g.
    once for the messages of several calls."""
    if not recipients:
        return []
    tenant = await session.get(Tenant, tenant_id)
    user_ids = list(dict.fromkeys(r.user_id for r in recipients))
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
    unknown = [u for u in user_ids if u not in users]
    if tenant is None or unknown:
        details = {"user_id": str(unknown[0])} if unknown else {}
        raise NotFound("Unknown tenant or user.", details=details)
    if channels is None:
        channels = await templates.channels_with_template(
            session, tenant_id=tenant_id, key=template_key
        )
        if not channels:
            raise templates.TemplateNotFound(details={"template_key": template_key})
    channels = list(dict.fromkeys(channels))
    disabled = await preferences.disabled_channels_many(
        session, tenant_id=tenant_id, user_ids=user_ids, kind=kind
    )
    quiet: dict[uuid.UUID, preferences.QuietHours | None] = {}
    if not preferences.is_urgent(kind):
        quiet = await preferences.quiet_hours_many(session, tenant=tenant, user_ids=user_ids)
    devices = await _push_tokens(session, tenant_id, user_ids) if Channel.push in channels else {}
    sources: dict[tuple[str, ...], dict[Channel, templates.TemplateSource]] = {}
    now = clock.utcnow()
    rows: list[dict[str, Any]] = []
    for item in recipients:
        user = users[item.user_id]
        locales = templates.locale_chain(user.locale, tenant.default_locale)
        hours = quiet.get(user.id)
        off = disabled.get(user.id, set())
        found = sources.get(tuple(locales))
        if found is None:
            found = await templates.find_templates(
                session, tenant_id=tenant_id, key=template_key, channels=channels, locales=locales
            )
            sources[tuple(locales)] = found
        for channel in channels:
            source = found.get(channel)
            if source is None:
                raise templates.TemplateNotFound(
                    details={"template_key": template_key, "channel": channel.value}
                )
            rendered = templates.render(
                source, item.context, tenant=tenant, timezone=user.timezone, locale=user.locale
            )
            due = now
            if hours is not None and channel not in preferences.QUIET_EXEMPT:
                due = hours.until(now, user.timezone) or now
            addresses = _addresses(user, channel, devices)
            reason = "opted_out" if channel in off else None if addresses else "no_recipient"
            rows.extend(
                message_rows(
                    tenant_id=tenant_id, user_id=user.id, kind=kind, template_key=template_key,
                    channel=channel, rendered=rendered, recipients=addresses, reason=reason,
                    due=due, now=now, dedupe_key=item.dedupe_key,
                )
            )  # fmt: skip
    if not rows:
        return []
    stmt = insert(NotificationMessage).on_conflict_do_nothing(
        index_elements=["tenant_id", "dedupe_key", "channel", "recipient"],
        index_where=NotificationMessage.dedupe_key.is_not(None),
    )
    written = list(await session.scalars(stmt.returning(NotificationMessage), rows))
    await _announce(session, written)
    if schedule:
        await schedule_delivery(session, written)
    return written


def _addresses(user: User, channel: Channel, devices: dict[uuid.UUID, list[str]]) -> list[str]:
    """As `service.recipients_for`, with push tokens read beforehand."""
    if channel == Channel.in_app:
        return [str(user.id)]
    if channel == Channel.email:
        return [user.email] if user.email else []
    if channel in (Channel.sms, Channel.whatsapp):
        return [user.phone] if user.phone else []
    return devices.get(user.id, [])


async def _push_tokens(
    session: AsyncSession, tenant_id: uuid.UUID, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    rows = await session.execute(
        select(PushDevice.user_id, PushDevice.token)
        .where(PushDevice.tenant_id == tenant_id, PushDevice.user_id.in_(user_ids))
        .order_by(PushDevice.created_at)
    )
    out: dict[uuid.UUID, list[str]] = {}
    for user_id, token in rows.all():
        out.setdefault(user_id, []).append(token)
    return out


async def _announce(session: AsyncSession, messages: list[NotificationMessage]) -> None:
    """As `service.announce`, one statement for all (sent only if the caller commits)."""
    payloads = [
        f"{m.tenant_id}:{m.user_id}:{m.id}"
        for m in messages
        if m.channel == Channel.in_app and m.user_id is not None
    ]
    if payloads:
        await session.execute(_ANNOUNCE, {"channel": STREAM_CHANNEL, "payloads": payloads})


async def schedule_delivery(session: AsyncSession, messages: list[NotificationMessage]) -> None:
    """Batch delivery jobs for the queued ones among `messages` (in the caller's transaction)."""
    now = clock.utcnow()
    by_time: dict[datetime | None, list[uuid.UUID]] = {}
    for message in messages:
        if message.status == MessageStatus.queued:
            at = message.next_attempt_at
            by_time.setdefault(at if at is not None and at > now else None, []).append(message.id)
    await delivery.schedule_batches(session, by_time)
