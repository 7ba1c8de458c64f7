"""Per-tenant content: the built-in deck plus the tenant's own and sponsored cards.

A tenant row with a built-in card's id replaces it; an inactive row keeps the card
resolvable (games may hold it pending) but never deals it again. The built deck is cached
per (tenant, revision); the revision is read with the game row, so edits apply at once.
"""

from __future__ import annotations

import copy
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.moneylife.engine import Content, load_content
from ludus.moneylife.engine.content import Card
from ludus.moneylife.errors import CardInvalid
from ludus.moneylife.models import ContentRevision, DecisionCard

CONTENT_VERSION = "v1"
_CACHE: OrderedDict[tuple[uuid.UUID, int], Content] = OrderedDict()
_CACHE_SIZE = 256


def base_content() -> Content:
    return load_content(CONTENT_VERSION)


def parse_card(definition: dict[str, Any]) -> Card:
    try:
        card = Card.model_validate(definition)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()[:10]]
        raise CardInvalid(details={"errors": errors}) from exc
    content = base_content()
    for opt in card.options:
        for fu in opt.followups:
            for out in fu.outcomes:
                if out.card and out.card not in content.cards:
                    raise CardInvalid(details={"follow_up": f"unknown card {out.card}"})
    if card.seasonal and card.seasonal not in content.seasons:
        raise CardInvalid(details={"seasonal": f"unknown season {card.seasonal}"})
    return card


def build(rows: Sequence[DecisionCard]) -> Content:
    """A shallow copy of the base content with the tenant's cards merged in."""
    base = base_content()
    if not rows:
        return base
    content = copy.copy(base)
    cards = dict(base.cards)
    for row in rows:
        card = Card.model_validate(row.definition)
        if not row.is_active:
            card = card.model_copy(update={"chain_only": True})
        cards[card.id] = card
    content.cards = cards
    content.option_index = {(c.id, o.id): o for c in cards.values() for o in c.options}
    content.__dict__.pop("_deal_index", None)
    return content


async def content_for(session: AsyncSession, tenant_id: uuid.UUID, revision: int | None) -> Content:
    """The tenant's deck; `revision` None means the tenant never edited cards."""
    if not revision:
        return base_content()
    key = (tenant_id, revision)
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    rows = (
        await session.execute(select(DecisionCard).where(DecisionCard.tenant_id == tenant_id))
    ).scalars()
    content = build(list(rows))
    _CACHE[key] = content
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return content


async def bump_revision(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    base = insert(ContentRevision).values(tenant_id=tenant_id, revision=1)
    stmt = base.on_conflict_do_update(
        index_elements=["tenant_id"], set_={"revision": ContentRevision.revision + 1}
    ).returning(ContentRevision.revision)
    revision: int = (await session.execute(stmt)).scalar_one()
    return revision


async def current_revision(session: AsyncSession, tenant_id: uuid.UUID) -> int | None:
    return await session.scalar(
        select(ContentRevision.revision).where(ContentRevision.tenant_id == tenant_id)
    )
