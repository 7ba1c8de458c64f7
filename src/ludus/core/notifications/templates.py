"""Templates per tenant and locale, rendered in a sandboxed Jinja2 environment.

Lookup walks the locale chain (`sw-KE` → `sw` → tenant default → `en`); within one locale the
tenant's own template wins over the platform default (tenant_id NULL), which wins over a
default registered in code with `register_default`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, is_currency
from jinja2 import StrictUndefined, Template, TemplateError, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import driver
from ludus.core.kit.errors import error_code
from ludus.core.kit.money import Money
from ludus.core.notifications.models import Channel, NotificationTemplate
from ludus.core.tenancy.models import Tenant

TemplateNotFound = error_code(
    422, "NOTIFICATION_TEMPLATE_NOT_FOUND", "No notification template matches this key."
)
TemplateInvalid = error_code(
    422, "NOTIFICATION_TEMPLATE_INVALID", "The notification template could not be rendered."
)
FALLBACK_LOCALE = "en"


@dataclass(frozen=True)
class TemplateSource:
    channel: Channel
    locale: str
    subject: str | None
    body: str
    tenant_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str
    locale: str
    html: bool


_defaults: dict[tuple[str, Channel, str], TemplateSource] = {}


def register_default(
    key: str, channel: Channel, locale: str, body: str, subject: str | None = None
) -> None:
    """Ship a default template in code (products call this at import time)."""
    loc = normalize_locale(locale)
    _defaults[(key, channel, loc)] = TemplateSource(channel, loc, subject, body)


def normalize_locale(value: str) -> str:
    parts = value.replace("_", "-").split("-")
    head = parts[0].lower()
    return "-".join([head, *(p.upper() if len(p) == 2 else p for p in parts[1:])])


def locale_chain(locale: str | None, tenant_default: str | None = None) -> list[str]:
    chain: list[str] = []
    for value in (locale, tenant_default, FALLBACK_LOCALE):
        if not value:
            continue
        parts = normalize_locale(value).split("-")
        for size in range(len(parts), 0, -1):
            candidate = "-".join(parts[:size])
            if candidate not in chain:
                chain.append(candidate)
    return chain


async def find_template(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    key: str,
    channel: Channel,
    locales: list[str],
) -> TemplateSource | None:
    found = await find_templates(
        session, tenant_id=tenant_id, key=key, channels=[channel], locales=locales
    )
    return found.get(channel)


async def find_templates(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    key: str,
    channels: list[Channel],
    locales: list[str],
) -> dict[Channel, TemplateSource]:
    """`find_template` for several channels with one query; channels without one are left out."""
    found = await find_templates_many(
        session, tenant_id=tenant_id, keys=[key], channels=channels, chains=[locales]
    )
    return found[(key, tuple(locales))]


_TEMPLATES = (
    "SELECT tenant_id, key, channel, locale, subject, body FROM notification_templates"
    " WHERE key = ANY(%(keys)s) AND channel = ANY(%(channels)s) AND locale = ANY(%(locales)s)"
    " AND (tenant_id = %(t)s OR tenant_id IS NULL)"
)


async def find_templates_many(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    keys: list[str],
    channels: list[Channel],
    chains: list[list[str]],
) -> dict[tuple[str, tuple[str, ...]], dict[Channel, TemplateSource]]:
    """`find_templates` for several keys and locale chains with one query, keyed by
    (key, chain)."""
    locales = sorted({loc for chain in chains for loc in chain})
    rows = await driver.fetch(
        session,
        _TEMPLATES,
        {"keys": keys, "channels": [c.name for c in channels], "locales": locales,
         "t": tenant_id},
    )  # fmt: skip
    out: dict[tuple[str, tuple[str, ...]], dict[Channel, TemplateSource]] = {}
    for key in keys:
        mine = [r for r in rows if r.key == key]
        for chain in chains:
            out[(key, tuple(chain))] = _best(mine, tenant_id, key, channels, chain)
    return out


def _best(
    rows: list[Any], tenant_id: uuid.UUID, key: str, channels: list[Channel], locales: list[str]
) -> dict[Channel, TemplateSource]:
    """Within the locale chain: the tenant's template, else the platform's, else code's."""
    best: dict[Channel, tuple[tuple[int, int], TemplateSource]] = {}
    for row in rows:
        if row.locale not in locales:
            continue
        channel = Channel(row.channel)
        source_rank = 0 if row.tenant_id == tenant_id else 1
        rank = (locales.index(row.locale), source_rank)
        if channel not in best or rank < best[channel][0]:
            source = TemplateSource(channel, row.locale, row.subject, row.body, row.tenant_id)
            best[channel] = (rank, source)
    for channel in channels:
        for loc in locales:
            default = _defaults.get((key, channel, loc))
            if default is not None:
                rank = (locales.index(loc), 2)
                if channel not in best or rank < best[channel][0]:
                    best[channel] = (rank, default)
                break
    return {channel: source for channel, (_, source) in best.items()}


async def channels_with_template(
    session: AsyncSession, *, tenant_id: uuid.UUID, key: str
) -> list[Channel]:
    rows = await session.execute(
        select(NotificationTemplate.channel)
        .where(
            NotificationTemplate.key == key,
            or_(
                NotificationTemplate.tenant_id == tenant_id,
                NotificationTemplate.tenant_id.is_(None),
            ),
        )
        .distinct()
    )
    found = {Channel(c) for c in rows.scalars()}
    found.update(channel for (k, channel, _) in _defaults if k == key)
    return [c for c in Channel if c in found]


# -- rendering -------------------------------------------------------------------------------


def babel_locale(locale: str | None) -> Locale:
    try:
        return Locale.parse(normalize_locale(locale or FALLBACK_LOCALE), sep="-")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK_LOCALE)


def as_money(value: Any, asset: str | None = None) -> Money:
    if isinstance(value, Money):
        return value
    if isinstance(value, dict):
        return Money(int(value["amount"]), str(value["asset"]))
    if isinstance(value, int) and not isinstance(value, bool) and asset:
        return Money(value, asset)
    raise TypeError("money needs a Money, {amount, asset} or an int with an asset code")


def format_money(money: Money, locale: str | None, coin_name: str | None = None) -> str:
    loc = babel_locale(locale)
    amount: Decimal = money.to_decimal()
    if is_currency(money.asset):
        return str(format_currency(amount, money.asset, locale=loc))
    label = coin_name if money.asset == "COIN" and coin_name else money.asset.lower()
    return f"{format_decimal(amount, locale=loc)} {label}"


@pass_context
def _money_filter(ctx: Context, value: Any, asset: str | None = None) -> str:
    brand = ctx.get("brand") or {}
    return format_money(as_money(value, asset), ctx.get("locale"), brand.get("coin_name"))


@pass_context
def _datetime_filter(ctx: Context, value: datetime, fmt: str = "medium") -> str:
    tz = ZoneInfo(str(ctx.get("timezone") or "UTC"))
    return str(format_datetime(value, fmt, tzinfo=tz, locale=babel_locale(ctx.get("locale"))))


def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=html, undefined=StrictUndefined)
    env.filters["money"] = _money_filter
    env.filters["datetime"] = _datetime_filter
    return env


_ENVS = {False: _environment(False), True: _environment(True)}


@lru_cache(maxsize=512)
def _compile(source: str, html: bool) -> Template:
    return _ENVS[html].from_string(source)


def branding(tenant: Tenant) -> dict[str, Any]:
    theme = tenant.theme or {}
    return {
        "name": theme.get("brand_name") or tenant.name,
        "primary_color": theme.get("primary_color"),
        "secondary_color": theme.get("secondary_color"),
        "accent_color": theme.get("accent_color"),
        "logo_url": theme.get("logo_url"),
        "coin_name": theme.get("coin_name") or "coins",
    }


def base_context(tenant: Tenant) -> dict[str, Any]:
    """What every message of `tenant` renders with (computed once for many messages)."""
    brand = branding(tenant)
    return {"brand": brand, "brand_name": brand["name"], "coin_name": brand["coin_name"]}


def render(
    source: TemplateSource,
    context: dict[str, Any],
    *,
    tenant: Tenant,
    timezone: str = "UTC",
    locale: str | None = None,
) -> Rendered:
    """Render subject and body; any template failure (syntax, missing variable, sandbox
    violation) becomes NOTIFICATION_TEMPLATE_INVALID and nothing is sent.

    Amounts and dates are formatted for `locale` (the reader's), even when the text fell
    back to another language."""
    return render_with(source, context, base_context(tenant), timezone=timezone, locale=locale)


def render_with(
    source: TemplateSource,
    context: dict[str, Any],
    base: dict[str, Any],
    *,
    timezone: str = "UTC",
    locale: str | None = None,
) -> Rendered:
    """`render` with the tenant's `base_context` computed beforehand; the template itself is
    compiled once per source text (and cached)."""
    full = {**context, **base, "locale": locale or source.locale, "timezone": timezone}
    html = source.channel == Channel.email
    try:
        subject = _compile(source.subject, False).render(full) if source.subject else None
        body = _compile(source.body, html).render(full)
    except (TemplateError, TypeError, ValueError, KeyError) as exc:
        raise TemplateInvalid(details={"reason": f"{type(exc).__name__}: {exc}"[:300]}) from exc
    return Rendered(subject.strip() if subject else None, body, source.locale, html)


def check_syntax(source: str, *, html: bool) -> None:
    try:
        _ENVS[html].parse(source)
    except TemplateError as exc:
        raise TemplateInvalid(details={"reason": f"{type(exc).__name__}: {exc}"[:300]}) from exc
