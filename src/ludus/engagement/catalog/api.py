"""Reward catalog and redemption routes under /rewards."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from ludus.core.auth.models import Role
from ludus.core.auth.principal import Principal, require_roles
from ludus.core.http.session import DbSession
from ludus.core.kit.errors import ValidationFailed
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, InputSchema, PageEnvelope, Schema, ok
from ludus.engagement.catalog import processing, service
from ludus.engagement.deps import CurrentCaller
from ludus.engagement.schemas import Category, FulfillmentType, RedeemIn

router = APIRouter(prefix="/rewards", tags=["rewards"])
Admin = Annotated[Principal, Depends(require_roles(Role.tenant_admin))]


class ItemIn(InputSchema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    image_url: str | None = Field(default=None, max_length=500)
    category: Category
    coin_cost: int = Field(gt=0, le=10_000_000)
    face_value: int = Field(default=0, ge=0)
    face_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    stock: int = Field(default=-1, ge=-1)
    fulfillment_type: FulfillmentType
    partner_item_ref: str | None = Field(default=None, max_length=100)
    visible_tenant_ids: list[uuid.UUID] | None = None


class ItemPatch(InputSchema):
    stock: int | None = Field(default=None, ge=-1)
    status: str | None = Field(default=None, pattern=r"^(active|paused|removed)$")
    coin_cost: int | None = Field(default=None, gt=0, le=10_000_000)
    visible_tenant_ids: list[uuid.UUID] | None = None


class ItemOut(Schema):
    id: uuid.UUID
    partner: uuid.UUID = Field(validation_alias="tenant_id")
    name: str
    description: str
    image: str | None = Field(validation_alias="image_url")
    category: str
    coins: int = Field(validation_alias="coin_cost")
    face_value: int
    face_currency: str
    stock: int
    fulfillment_type: str
    status: str
    available: bool = True


class RedemptionOut(Schema):
    redemption_id: uuid.UUID = Field(validation_alias="id")
    item_id: uuid.UUID
    coin_cost: int
    status: str
    fulfillment_details: dict[str, Any] | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


class DisputeIn(InputSchema):
    reason: str = Field(min_length=1, max_length=1000)


class ResolveIn(InputSchema):
    refund: bool
    note: str = Field(default="", max_length=1000)


def _item(row: Any) -> ItemOut:
    out = ItemOut.model_validate(row)
    out.available = row.status == "active" and row.stock != 0
    return out


@router.get("/catalog", response_model=PageEnvelope[ItemOut])
async def catalog(
    caller: CurrentCaller,
    session: DbSession,
    page: PageQuery,
    q: Annotated[str | None, Query(max_length=100)] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    min_coins: Annotated[int | None, Query(ge=0)] = None,
    max_coins: Annotated[int | None, Query(ge=0)] = None,
    partner: uuid.UUID | None = None,
) -> PageEnvelope[ItemOut]:
    rows, total = await service.search(
        session,
        caller.tenant_id,
        q=q,
        category=category,
        min_coins=min_coins,
        max_coins=max_coins,
        partner=partner,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([_item(r) for r in rows], total, page)


@router.get("/catalog/{item_id}", response_model=Envelope[ItemOut])
async def catalog_item(
    item_id: uuid.UUID, caller: CurrentCaller, session: DbSession
) -> Envelope[ItemOut]:
    return ok(_item(await service.get_item(session, caller.tenant_id, item_id)))


@router.post("/catalog", response_model=Envelope[ItemOut], status_code=201)
async def create_item(body: ItemIn, principal: Admin, session: DbSession) -> Envelope[ItemOut]:
    row = await service.create_item(
        session, tenant_id=principal.require_tenant(), status="active", **body.model_dump()
    )
    return ok(_item(row))


@router.patch("/catalog/{item_id}", response_model=Envelope[ItemOut])
async def update_item(
    item_id: uuid.UUID, body: ItemPatch, principal: Admin, session: DbSession
) -> Envelope[ItemOut]:
    row = await service.update_item(
        session,
        tenant_id=principal.require_tenant(),
        item_id=item_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return ok(_item(row))


@router.post("/redeem", response_model=Envelope[RedemptionOut])
async def redeem(
    body: RedeemIn,
    request: Request,
    response: Response,
    caller: CurrentCaller,
    session: DbSession,
) -> Envelope[RedemptionOut]:
    key = (
        request.headers.get("idempotency-key")
        or request.headers.get("x-idempotency-key")
        or body.idempotency_key
    )
    if not key:
        raise ValidationFailed("Send an Idempotency-Key header or body.idempotency_key.")
    row, created = await service.redeem(
        session,
        tenant_id=caller.tenant_id,
        user_id=caller.user_id,
        item_id=body.item_id,
        idempotency_key=key.strip(),
        product=caller.product,
        delivery_email=body.delivery.email,
        delivery_address=body.delivery.address,
    )
    response.status_code = 201 if created else 200
    return ok(RedemptionOut.model_validate(row))


@router.get("/redemptions", response_model=PageEnvelope[RedemptionOut])
async def redemptions(
    caller: CurrentCaller,
    session: DbSession,
    page: PageQuery,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> PageEnvelope[RedemptionOut]:
    rows, total = await processing.list_redemptions(
        session,
        caller.tenant_id,
        caller.user_id,
        status=status,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([RedemptionOut.model_validate(r) for r in rows], total, page)


@router.get("/redemptions/{redemption_id}", response_model=Envelope[RedemptionOut])
async def redemption(
    redemption_id: uuid.UUID, caller: CurrentCaller, session: DbSession
) -> Envelope[RedemptionOut]:
    row = await processing.get_redemption(session, caller.tenant_id, redemption_id, caller.user_id)
    return ok(RedemptionOut.model_validate(row))


@router.post("/redemptions/{redemption_id}/confirm", response_model=Envelope[RedemptionOut])
async def confirm(
    redemption_id: uuid.UUID, caller: CurrentCaller, session: DbSession
) -> Envelope[RedemptionOut]:
    row = await processing.confirm(session, caller.tenant_id, caller.user_id, redemption_id)
    return ok(RedemptionOut.model_validate(row))


@router.post("/redemptions/{redemption_id}/dispute", response_model=Envelope[RedemptionOut])
async def dispute(
    redemption_id: uuid.UUID, body: DisputeIn, caller: CurrentCaller, session: DbSession
) -> Envelope[RedemptionOut]:
    row = await processing.dispute(
        session, caller.tenant_id, caller.user_id, redemption_id, body.reason
    )
    return ok(RedemptionOut.model_validate(row))


@router.post("/admin/redemptions/{redemption_id}/resolve", response_model=Envelope[RedemptionOut])
async def resolve(
    redemption_id: uuid.UUID, body: ResolveIn, principal: Admin, session: DbSession
) -> Envelope[RedemptionOut]:
    row = await processing.resolve(
        session, principal.require_tenant(), redemption_id, refund=body.refund, note=body.note
    )
    return ok(RedemptionOut.model_validate(row))
