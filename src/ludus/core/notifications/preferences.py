"""Who wants what: per-channel opt-outs by notification kind, and quiet hours.

Kinds are dotted (`savings.deposit_receipt`, `marketing.winback`); a preference for a prefix
(`marketing`) or for every kind (`*`) applies unless a more specific one says otherwise.
OTP and security messages ignore both opt-outs and quiet hours.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.notifications import config
from ludus.core.notifications.models import Channel, NotificationPreference, NotificationSettings
from ludus.core.tenancy.models import Tenant

URGENT_KINDS = frozenset({"otp", "security"})
# Silent channels are never held back by quiet hours.
QUIET_EXEMPT = frozenset({Channel.in_app})


def is_urgent(kind: str) -> bool:
    return kind.split(".", 1)[0] in URGENT_KINDS


def kind_candidates(kind: str) -> list[str]:
    """Most specific first: `a.b.c`, `a.b`, `a`, `*`."""
    parts = kind.split(".")
    return [".".join(parts[:size]) for size in range(len(parts), 0, -1)] + ["*"]


async def disabled_channels(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str
) -> set[Channel]:
    if is_urgent(kind):
        return set()
    candidates = kind_candidates(kind)
    rows = await session.execute(
        select(NotificationPreference).where(
            NotificationPreference.tenant_id == tenant_id,
            NotificationPreference.user_id == user_id,
            NotificationPreference.kind.in_(candidates),
        )
    )
    return _disabled(rows.scalars(), candidates)


def _disabled(prefs: Iterable[NotificationPreference], candidates: list[str]) -> set[Channel]:
    """The most specific preference per channel decides."""
    best: dict[Channel, tuple[int, bool]] = {}
    for pref in prefs:
        rank = candidates.index(pref.kind)
        channel = Channel(pref.channel)
        if channel not in best or rank < best[channel][0]:
            best[channel] = (rank, pref.enabled)
    return {channel for channel, (_, enabled) in best.items() if not enabled}


async def disabled_channels_many(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_ids: Collection[uuid.UUID], kind: str
) -> dict[uuid.UUID, set[Channel]]:
    """`disabled_channels` for many users with one query (users with none are left out)."""
    if is_urgent(kind) or not user_ids:
        return {}
    candidates = kind_candidates(kind)
    rows = await session.execute(
        select(NotificationPreference).where(
            NotificationPreference.tenant_id == tenant_id,
            NotificationPreference.user_id.in_(list(user_ids)),
            NotificationPreference.kind.in_(candidates),
        )
    )
    by_user: dict[uuid.UUID, list[NotificationPreference]] = {}
    for pref in rows.scalars():
        by_user.setdefault(pref.user_id, []).append(pref)
    return {user_id: _disabled(prefs, candidates) for user_id, prefs in by_user.items()}


async def set_preference(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    channel: Channel,
    enabled: bool,
) -> None:
    stmt = insert(NotificationPreference).values(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        kind=kind,
        channel=channel.value,
        enabled=enabled,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            constraint="uq_notification_preferences_tenant_id_user_id_kind_channel",
            set_={"enabled": stmt.excluded.enabled, "updated_at": datetime.now(UTC)},
        )
    )


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def until(self, now: datetime, timezone: str) -> datetime | None:
        """When quiet hours end, if `now` falls inside them (in the user's timezone)."""
        if self.start == self.end:
            return None
        tz = zone(timezone)
        local = now.astimezone(tz)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            inside, day = self.start <= clock < self.end, local.date()
        else:  # spans midnight, e.g. 21:00-07:00
            inside = clock >= self.start or clock < self.end
            day = local.date() + timedelta(days=1) if clock >= self.start else local.date()
        if not inside:
            return None
        return datetime.combine(day, self.end, tzinfo=tz).astimezone(UTC)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _parse_clock(value: object) -> time | None:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            return None
    return None


async def quiet_hours(
    session: AsyncSession, *, tenant: Tenant, user_id: uuid.UUID
) -> QuietHours | None:
    """The user's quiet hours, else the tenant's default (`config.notifications.quiet_hours`)."""
    own = await session.get(NotificationSettings, (tenant.id, user_id))
    if own is not None:  # a stored row with no times means the user turned them off
        return _own_hours(own)
    return tenant_quiet_hours(tenant)


def _own_hours(own: NotificationSettings) -> QuietHours | None:
    if own.quiet_start is not None and own.quiet_end is not None:
        return QuietHours(own.quiet_start, own.quiet_end)
    return None


def tenant_quiet_hours(tenant: Tenant) -> QuietHours | None:
    """The tenant's default (`config.notifications.quiet_hours`), if it sets one."""
    default = config.tenant_block(tenant).get("quiet_hours") or {}
    start, end = _parse_clock(default.get("start")), _parse_clock(default.get("end"))
    return QuietHours(start, end) if start and end else None


async def quiet_hours_many(
    session: AsyncSession, *, tenant: Tenant, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, QuietHours | None]:
    """`quiet_hours` for many users with one query."""
    default = tenant_quiet_hours(tenant)
    out: dict[uuid.UUID, QuietHours | None] = dict.fromkeys(user_ids, default)
    if not out:
        return out
    rows = await session.execute(
        select(NotificationSettings).where(
            NotificationSettings.tenant_id == tenant.id,
            NotificationSettings.user_id.in_(list(out)),
        )
    )
    for own in rows.scalars():
        out[own.user_id] = _own_hours(own)
    return out


async def set_quiet_hours(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    start: time | None,
    end: time | None,
) -> None:
    stmt = insert(NotificationSettings).values(
        tenant_id=tenant_id, user_id=user_id, quiet_start=start, quiet_end=end
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "user_id"],
            set_={"quiet_start": start, "quiet_end": end, "updated_at": datetime.now(UTC)},
        )
    )
