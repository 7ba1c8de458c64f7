"""`notify_many`: one kind of message to many users in a fixed number of statements, and
`notify_batches`: several kinds at once, written lean and delivered by the caller.

Each recipient gets exactly what `notify` would write for them (template in their locale,
their opt-outs and quiet hours, their addresses, the dedupe key), but the users with their
quiet hours and preferences are read with one query, push devices with one, the templates
of every kind with one, and the messages go in with one insert. `notify_many` queues
delivery in batch jobs of up to `delivery.BATCH` messages (`notifications.deliver_batch`);
`notify_batches` instead writes the messages that are due now already leased for their
first attempt and returns them, so the caller sends them itself right after its commit
(`delivery.send_claimed`) with no job in between.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock, driver
from ludus.core.kit.errors import NotFound
from ludus.core.notifications import delivery, preferences, templates
from ludus.core.notifications.config import get_notify_settings
from ludus.core.notifications.models import (
    Channel,
    MessageStatus,
    NotificationMessage,
    PushDevice,
)
from ludus.core.notifications.providers import OutgoingMessage
from ludus.core.notifications.service import STREAM_CHANNEL, message_rows
from ludus.core.tenancy.models import Tenant


@dataclass(frozen=True)
class Recipient:
    user_id: uuid.UUID
    context: dict[str, Any]
    dedupe_key: str | None = None


@dataclass(frozen=True)
class Send:
    """One kind of message (one template) to many recipients."""

    kind: str
    template_key: str
    recipients: Sequence[Recipient]


@dataclass(frozen=True)
class Claimed:
    """A message written leased for its first attempt: send it after the commit."""

    id: uuid.UUID
    message: OutgoingMessage


@dataclass(frozen=True)
class _Reader:
    """What rendering and addressing need of a user, with their quiet hours and opt-outs."""

    id: uuid.UUID
    email: str | None
    phone: str | None
    locale: str
    timezone: str
    own_quiet: bool  # a stored settings row (no times in it: quiet hours turned off)
    quiet_start: time | None
    quiet_end: time | None
    prefs: list[tuple[str, str, bool]]  # (kind, channel, enabled) for the kinds asked


_ANNOUNCE = text("SELECT count(pg_notify(:channel, p)) FROM unnest(CAST(:payloads AS text[])) AS p")

# Users, their quiet hours and their preferences for the kinds at hand, in one round trip.
_READERS = (
    "SELECT u.id, u.email, u.phone, u.locale, u.timezone, s.user_id IS NOT NULL AS own_quiet,"
    " s.quiet_start, s.quiet_end,"
    " (SELECT coalesce(json_agg(json_build_array(p.kind, p.channel, p.enabled)), '[]')"
    "  FROM notification_preferences AS p WHERE p.tenant_id = %(t)s AND p.user_id = u.id"
    "  AND p.kind = ANY(%(kinds)s)) AS prefs"
    " FROM users AS u LEFT JOIN notification_settings AS s"
    " ON s.tenant_id = %(t)s AND s.user_id = u.id"
    " WHERE u.id = ANY(%(ids)s)"
)


async def _readers(
    session: AsyncSession, tenant_id: uuid.UUID, user_ids: list[uuid.UUID], kinds: set[str]
) -> dict[uuid.UUID, _Reader]:
    candidates = sorted({c for k in kinds for c in preferences.kind_candidates(k)})
    rows = await driver.fetch(
        session, _READERS, {"t": tenant_id, "ids": user_ids, "kinds": candidates}
    )
    out: dict[uuid.UUID, _Reader] = {}
    for r in rows:
        prefs = [(str(k), str(c), bool(e)) for k, c, e in r.prefs]
        out[r.id] = _Reader(r.id, r.email, r.phone, r.locale, r.timezone, r.own_quiet,
                            r.quiet_start, r.quiet_end, prefs)  # fmt: skip
    return out


def _disabled(reader: _Reader, kind: str) -> set[Channel]:
    """As `preferences.disabled_channels`: the most specific preference per channel decides."""
    if preferences.is_urgent(kind):
        return set()
    candidates = preferences.kind_candidates(kind)
    best: dict[Channel, tuple[int, bool]] = {}
    for pref_kind, channel_name, enabled in reader.prefs:
        if pref_kind not in candidates:
            continue
        rank = candidates.index(pref_kind)
        channel = Channel(channel_name)
        if channel not in best or rank < best[channel][0]:
            best[channel] = (rank, enabled)
    return {channel for channel, (_, enabled) in best.items() if not enabled}


def _quiet(
    reader: _Reader, kind: str, default: preferences.QuietHours | None
) -> preferences.QuietHours | None:
    """As `preferences.quiet_hours`: the user's own, else the tenant's default."""
    if preferences.is_urgent(kind):
        return None
    if not reader.own_quiet:
        return default
    if reader.quiet_start is not None and reader.quiet_end is not None:
        return preferences.QuietHours(reader.quiet_start, reader.quiet_end)
    return None


async def _prepare(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    sends: Sequence[Send],
    channels: list[Channel] | None,
    *,
    lease_until: datetime | None = None,
) -> tuple[Tenant, list[dict[str, Any]]]:
    """The message rows of every send, read and rendered once per template and locale.

    With `lease_until`, queued messages due now are written leased (attempt 1 in flight)."""
    await session.flush()  # the reads below go straight to the driver
    tenant = await session.get(Tenant, tenant_id)
    user_ids = list(dict.fromkeys(r.user_id for send in sends for r in send.recipients))
    readers = await _readers(session, tenant_id, user_ids, {s.kind for s in sends})
    unknown = [u for u in user_ids if u not in readers]
    if tenant is None or unknown:
        details = {"user_id": str(unknown[0])} if unknown else {}
        raise NotFound("Unknown tenant or user.", details=details)
    by_key: dict[str, list[Channel]] = {}
    for send in sends:
        if send.template_key in by_key:
            continue
        chosen = channels
        if chosen is None:
            chosen = await templates.channels_with_template(
                session, tenant_id=tenant_id, key=send.template_key
            )
            if not chosen:
                raise templates.TemplateNotFound(details={"template_key": send.template_key})
        by_key[send.template_key] = list(dict.fromkeys(chosen))
    every_channel = list(dict.fromkeys(c for cs in by_key.values() for c in cs))
    devices = (
        await _push_tokens(session, tenant_id, user_ids) if Channel.push in every_channel else {}
    )
    chains = {
        tuple(templates.locale_chain(r.locale, tenant.default_locale)) for r in readers.values()
    }
    found = await templates.find_templates_many(
        session, tenant_id=tenant_id, keys=list(by_key), channels=every_channel,
        chains=[list(c) for c in chains],
    )  # fmt: skip
    default_quiet = preferences.tenant_quiet_hours(tenant)
    now = clock.utcnow()
    base = templates.base_context(tenant)
    rows: list[dict[str, Any]] = []
    for send in sends:
        key_channels = by_key[send.template_key]
        for item in send.recipients:
            user = readers[item.user_id]
            chain = tuple(templates.locale_chain(user.locale, tenant.default_locale))
            sources = found.get((send.template_key, chain), {})
            hours = _quiet(user, send.kind, default_quiet)
            off = _disabled(user, send.kind)
            for channel in key_channels:
                source = sources.get(channel)
                if source is None:
                    raise templates.TemplateNotFound(
                        details={"template_key": send.template_key, "channel": channel.value}
                    )
                rendered = templates.render_with(
                    source, item.context, base, timezone=user.timezone, locale=user.locale
                )
                due = now
                if hours is not None and channel not in preferences.QUIET_EXEMPT:
                    due = hours.until(now, user.timezone) or now
                addresses = _addresses(user, channel, devices)
                reason = "opted_out" if channel in off else None if addresses else "no_recipient"
                made = message_rows(
                    tenant_id=tenant_id, user_id=user.id, kind=send.kind,
                    template_key=send.template_key, channel=channel, rendered=rendered,
                    recipients=addresses, reason=reason, due=due, now=now,
                    dedupe_key=item.dedupe_key,
                )  # fmt: skip
                if lease_until is not None:
                    for row in made:
                        if row["status"] == MessageStatus.queued and due <= now:
                            row["attempts"], row["next_attempt_at"] = 1, lease_until
                rows.extend(made)
    return tenant, rows


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
    _, rows = await _prepare(session, tenant_id, [Send(kind, template_key, recipients)], channels)
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


_COLUMNS = (
    "id", "tenant_id", "user_id", "channel", "kind", "recipient", "subject", "body", "data",
    "status", "provider", "attempts", "error", "sent_at", "next_attempt_at", "template_key",
    "locale", "dedupe_key", "status_updated_at",
)  # fmt: skip
# The rows travel as one JSON document (serialized in C, typed by the table's row type):
# cheaper than one array parameter per column, which the driver dumps element by element.
_INSERT_LEAN = (
    f"INSERT INTO {NotificationMessage.__tablename__} ({', '.join(_COLUMNS)})"
    f" SELECT {', '.join(_COLUMNS)} FROM json_populate_recordset("
    f"NULL::{NotificationMessage.__tablename__}, %(rows)s::json)"
    " ON CONFLICT (tenant_id, dedupe_key, channel, recipient) WHERE dedupe_key IS NOT NULL"
    " DO NOTHING RETURNING id"
)


def _json_rows(rows: list[dict[str, Any]]) -> str:
    """The rows as JSON, enums as their stored names."""
    return orjson.dumps(
        [
            {c: v.name if isinstance(v, (Channel, MessageStatus)) else v for c, v in row.items()}
            for row in rows
        ]
    ).decode()


async def notify_batches(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    sends: Sequence[Send],
    channels: list[Channel] | None = None,
) -> list[Claimed]:
    """`notify_many` for several kinds at once, in the caller's transaction, with one insert
    and no ORM objects. Queued messages due now are written leased for their first attempt
    and returned: send them after the commit with `delivery.send_claimed` (should that
    never happen, the lease expires and the sweep sends them). Messages held by quiet
    hours get batch jobs for their time, as with `notify_many`."""
    sends = [s for s in sends if s.recipients]
    if not sends:
        return []
    lease = clock.utcnow() + timedelta(seconds=get_notify_settings().claim_seconds)
    _, rows = await _prepare(session, tenant_id, sends, channels, lease_until=lease)
    if not rows:
        return []
    written = {r.id for r in await driver.fetch(session, _INSERT_LEAN, {"rows": _json_rows(rows)})}
    fresh = [row for row in rows if row["id"] in written]
    payloads = [
        f"{tenant_id}:{row['user_id']}:{row['id']}"
        for row in fresh
        if row["channel"] == Channel.in_app and row["user_id"] is not None
    ]
    if payloads:
        await session.execute(_ANNOUNCE, {"channel": STREAM_CHANNEL, "payloads": payloads})
    claimed: list[Claimed] = []
    later: dict[datetime | None, list[uuid.UUID]] = {}
    for row in fresh:
        if row["status"] != MessageStatus.queued:
            continue
        if row["attempts"] == 1:  # leased above: due now
            claimed.append(
                Claimed(row["id"], delivery.outgoing_of(
                    row["id"], row["channel"], row["recipient"], row["subject"], row["body"],
                    row["data"],
                ))
            )  # fmt: skip
        else:
            later.setdefault(row["next_attempt_at"], []).append(row["id"])
    await delivery.schedule_batches(session, later)
    return claimed


def _addresses(user: _Reader, channel: Channel, devices: dict[uuid.UUID, list[str]]) -> list[str]:
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
