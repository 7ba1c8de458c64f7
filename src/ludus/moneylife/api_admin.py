"""Tenant admin: decision cards (own and sponsored) and the anti-cheat review queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from ludus.core.http.session import DbSession
from ludus.core.kit import clock
from ludus.core.kit.errors import Conflict, NotFound
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, InputSchema, PageEnvelope, Schema, ok
from ludus.moneylife import anticheat, decks
from ludus.moneylife.auth import GameAdmin
from ludus.moneylife.errors import CardNotFoundForTenant
from ludus.moneylife.models import DecisionCard

router = APIRouter(prefix="/moneylife/admin", tags=["moneylife-admin"])


class CardIn(InputSchema):
    definition: dict[str, Any]
    sponsor: str | None = Field(None, max_length=120)


class CardUpdate(InputSchema):
    definition: dict[str, Any] | None = None
    sponsor: str | None = Field(None, max_length=120)
    is_active: bool | None = None


class CardOut(Schema):
    id: str
    category: str
    title: str
    definition: dict[str, Any]
    sponsor: str | None
    is_active: bool
    updated_at: datetime


class FlagOut(Schema):
    id: uuid.UUID
    game_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    window: str
    details: dict[str, Any]
    status: str
    reviewed_by: uuid.UUID | None
    reviewed_at: datetime | None
    created_at: datetime


class FlagReview(InputSchema):
    status: Literal["confirmed", "dismissed", "open"]


class CardList(BaseModel):
    cards: list[CardOut]


def _definition(body: dict[str, Any], sponsor: str | None) -> dict[str, Any]:
    definition = dict(body)
    if sponsor:
        definition["subcategory"] = "sponsored"
    card = decks.parse_card(definition)
    return card.model_dump(mode="json")


async def _get(session: DbSession, tenant_id: uuid.UUID, card_id: str) -> DecisionCard | None:
    return await session.scalar(
        select(DecisionCard).where(DecisionCard.tenant_id == tenant_id, DecisionCard.id == card_id)
    )


@router.get("/cards", response_model=Envelope[CardList])
async def list_cards(principal: GameAdmin, session: DbSession) -> Any:
    tenant_id = principal.require_tenant()
    rows = await session.scalars(
        select(DecisionCard).where(DecisionCard.tenant_id == tenant_id).order_by(DecisionCard.id)
    )
    return ok(CardList(cards=[CardOut.model_validate(r) for r in rows]))


@router.post("/cards", response_model=Envelope[CardOut], status_code=201)
async def create_card(body: CardIn, principal: GameAdmin, session: DbSession) -> Any:
    tenant_id = principal.require_tenant()
    definition = _definition(body.definition, body.sponsor)
    if await _get(session, tenant_id, definition["id"]) is not None:
        raise Conflict("A card with this id exists; edit it instead.")
    row = DecisionCard(
        tenant_id=tenant_id,
        id=definition["id"],
        category=definition["category"],
        title=definition["title"],
        definition=definition,
        sponsor=body.sponsor,
        is_active=True,
    )
    session.add(row)
    await session.flush()
    await decks.bump_revision(session, tenant_id)
    await session.refresh(row)
    return ok(CardOut.model_validate(row))


@router.put("/cards/{card_id}", response_model=Envelope[CardOut])
async def update_card(
    card_id: str, body: CardUpdate, principal: GameAdmin, session: DbSession
) -> Any:
    tenant_id = principal.require_tenant()
    row = await _get(session, tenant_id, card_id)
    if row is None:
        base = decks.base_content().cards.get(card_id)
        if base is None:
            raise CardNotFoundForTenant()
        definition = base.model_dump(mode="json")
        row = DecisionCard(
            tenant_id=tenant_id,
            id=card_id,
            category=base.category,
            title=base.title,
            definition=definition,
            is_active=True,
        )
        session.add(row)
    if body.definition is not None:
        definition = _definition({**body.definition, "id": card_id}, body.sponsor or row.sponsor)
        row.definition, row.category, row.title = (
            definition,
            definition["category"],
            definition["title"],
        )
    if body.sponsor is not None:
        row.sponsor = body.sponsor
    if body.is_active is not None:
        row.is_active = body.is_active
    row.updated_at = clock.utcnow()
    await session.flush()
    await decks.bump_revision(session, tenant_id)
    return ok(CardOut.model_validate(row))


@router.delete("/cards/{card_id}", response_model=Envelope[CardOut])
async def deactivate_card(card_id: str, principal: GameAdmin, session: DbSession) -> Any:
    """Cards are never deleted (games may hold them); they stop being dealt."""
    return await update_card(card_id, CardUpdate(is_active=False), principal, session)


@router.get("/flags", response_model=PageEnvelope[FlagOut])
async def list_flags(
    principal: GameAdmin,
    session: DbSession,
    page: PageQuery,
    status: Literal["open", "confirmed", "dismissed"] | None = Query(None),
) -> Any:
    rows, total = await anticheat.list_flags(
        session, principal.require_tenant(), status=status, offset=page.offset, limit=page.limit
    )
    return paginated([FlagOut.model_validate(r) for r in rows], total, page)


@router.patch("/flags/{flag_id}", response_model=Envelope[FlagOut])
async def review_flag(
    flag_id: uuid.UUID, body: FlagReview, principal: GameAdmin, session: DbSession
) -> Any:
    row = await anticheat.review(
        session, principal.require_tenant(), flag_id, body.status, principal.user_id, clock.utcnow()
    )
    if row is None:
        raise NotFound("Flag not found.")
    return ok(FlagOut.model_validate(row))
