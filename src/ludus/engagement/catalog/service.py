"""Reward catalog and redemptions.

Redeeming is one transaction: per-user lock, idempotency check, rate limits, stock decrement
(the row lock serializes buyers of one item), and a ledger hold of the coins (wallet →
rewards pool). Fulfilment runs later in a job: fulfilled posts the hold, a failure voids it
(coins refunded) and puts the stock back. States:
pending → processing → fulfilled → confirmed | disputed → resolved | refunded;
pending/processing → failed → refunded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import any_, func, literal, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.jobs.defer import defer
from ludus.core.kit import clock
from ludus.core.kit.errors import IdempotencyKeyReused, NotFound
from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import InsufficientFunds
from ludus.engagement import coins, errors
from ludus.engagement.catalog.models import CatalogItem, Redemption, RedemptionTransition
from ludus.engagement.outbox import publish
from ludus.engagement.rules import load_rules

TRANSITIONS = {
    "pending": {"processing", "failed"},
    "processing": {"fulfilled", "failed"},
    "fulfilled": {"confirmed", "disputed"},
    "failed": {"refunded"},
    "disputed": {"resolved", "refunded"},
}
OPEN_STATES = ("pending", "processing", "fulfilled", "confirmed", "disputed", "resolved")
MAX_ATTEMPTS = 3
AUTO_CONFIRM_AFTER = timedelta(days=14)
FULFIL_TASK = "engagement.fulfil_redemption"


def _visible(tenant_id: uuid.UUID) -> Any:
    return or_(
        CatalogItem.tenant_id == tenant_id,
        CatalogItem.visible_tenant_ids.is_(None),
        literal(tenant_id) == any_(CatalogItem.visible_tenant_ids),
    )


async def create_item(session: AsyncSession, *, tenant_id: uuid.UUID, **fields: Any) -> CatalogItem:
    item = CatalogItem(id=uuid.uuid4(), tenant_id=tenant_id, **fields)
    session.add(item)
    await session.flush()
    await session.refresh(item)
    return item


async def update_item(
    session: AsyncSession, *, tenant_id: uuid.UUID, item_id: uuid.UUID, changes: dict[str, Any]
) -> CatalogItem:
    item = await session.scalar(
        select(CatalogItem).where(CatalogItem.id == item_id, CatalogItem.tenant_id == tenant_id)
    )
    if item is None:
        raise NotFound("Item not found.")
    for key, value in changes.items():
        setattr(item, key, value)
    await session.flush()
    await session.refresh(item)
    return item


async def search(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    q: str | None = None,
    category: str | None = None,
    min_coins: int | None = None,
    max_coins: int | None = None,
    partner: uuid.UUID | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[Sequence[CatalogItem], int]:
    query = select(CatalogItem).where(_visible(tenant_id), CatalogItem.status == "active")
    if q:
        query = query.where(CatalogItem.search.op("@@")(func.websearch_to_tsquery("simple", q)))
    if category:
        query = query.where(CatalogItem.category == category)
    if min_coins is not None:
        query = query.where(CatalogItem.coin_cost >= min_coins)
    if max_coins is not None:
        query = query.where(CatalogItem.coin_cost <= max_coins)
    if partner is not None:
        query = query.where(CatalogItem.tenant_id == partner)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(
        query.order_by(CatalogItem.coin_cost, CatalogItem.name, CatalogItem.id)
        .offset(offset)
        .limit(limit)
    )
    return rows.scalars().all(), total


async def get_item(session: AsyncSession, tenant_id: uuid.UUID, item_id: uuid.UUID) -> CatalogItem:
    item = await session.scalar(
        select(CatalogItem).where(CatalogItem.id == item_id, _visible(tenant_id))
    )
    if item is None:
        raise NotFound("Item not found.")
    return item


async def _transition(
    session: AsyncSession, row: Redemption, to: str, note: str | None = None
) -> None:
    if to not in TRANSITIONS.get(row.status, set()):
        raise errors.BadTransition(details={"from": row.status, "to": to})
    session.add(
        RedemptionTransition(
            id=uuid.uuid4(),
            tenant_id=row.tenant_id,
            redemption_id=row.id,
            from_status=row.status,
            to_status=to,
            note=note,
            created_at=clock.utcnow(),
        )
    )
    row.status = to
    await session.flush()
    await session.refresh(row)  # reload server-set columns (updated_at)
    data = {"redemption_id": row.id, "item_id": row.item_id, "user_id": row.user_id, "status": to}
    await publish(session, f"reward.redemption.{to}", row.tenant_id, data)
    if to == "fulfilled":
        await publish(session, "reward.fulfilled", row.tenant_id, data)


async def _check_limits(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    item: CatalogItem,
    product: str,
    now: datetime,
) -> None:
    limits = (await load_rules(session, tenant_id, product)).redemption
    base = select(func.count(), func.coalesce(func.sum(Redemption.coin_cost), 0)).where(
        Redemption.tenant_id == tenant_id,
        Redemption.user_id == user_id,
        Redemption.status.in_(OPEN_STATES),
    )
    day = (await session.execute(base.where(Redemption.created_at > now - timedelta(days=1)))).one()
    month = (
        await session.execute(base.where(Redemption.created_at > now - timedelta(days=30)))
    ).one()
    same_item = await session.scalar(
        select(func.count()).where(
            Redemption.tenant_id == tenant_id,
            Redemption.user_id == user_id,
            Redemption.item_id == item.id,
            Redemption.status.in_(OPEN_STATES),
            Redemption.created_at > now - timedelta(days=1),
        )
    )
    checks = (
        ("per_day", day[0] + 1 > limits.per_day),
        ("coins_per_day", day[1] + item.coin_cost > limits.coins_per_day),
        ("per_item_per_day", (same_item or 0) + 1 > limits.per_item_per_day),
        ("per_month", month[0] + 1 > limits.per_month),
        ("coins_per_month", month[1] + item.coin_cost > limits.coins_per_month),
    )
    for name, exceeded in checks:
        if exceeded:
            raise errors.RedemptionLimit(details={"limit": name})


async def redeem(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    item_id: uuid.UUID,
    idempotency_key: str,
    product: str,
    delivery_email: str | None = None,
    delivery_address: dict[str, Any] | None = None,
) -> tuple[Redemption, bool]:
    """Returns (redemption, created); the same key again returns the first redemption."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
        {"k": f"redeem:{tenant_id}:{user_id}"},
    )
    existing = await session.scalar(
        select(Redemption).where(
            Redemption.tenant_id == tenant_id,
            Redemption.user_id == user_id,
            Redemption.idempotency_key == idempotency_key,
        )
    )
    if existing is not None:
        if existing.item_id != item_id:
            raise IdempotencyKeyReused()
        return existing, False
    item = await get_item(session, tenant_id, item_id)
    if item.status != "active":
        raise errors.ItemUnavailable()
    if item.stock == 0:
        raise errors.OutOfStock()
    if item.fulfillment_type == "physical" and not delivery_address:
        raise errors.DeliveryRequired(details={"field": "delivery.address"})
    asset = (await load_rules(session, tenant_id, product)).coins.asset
    available = await coins.balance(session, tenant_id, user_id, asset)
    if available < item.coin_cost:  # early answer; the hold below is the real guard
        raise errors.InsufficientCoins(details={"needed": item.coin_cost, "available": available})
    now = clock.utcnow()
    await _check_limits(session, tenant_id, user_id, item, product, now)
    row = Redemption(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        item_id=item.id,
        partner_tenant_id=item.tenant_id,
        coin_cost=item.coin_cost,
        idempotency_key=idempotency_key,
        status="pending",
        fulfillment_details={},
        delivery_email=delivery_email,
        delivery_address=delivery_address,
        attempts=0,
    )
    session.add(row)
    await session.flush()
    wallet = await coins.wallet(session, tenant_id, user_id, asset)
    pool = await coins.pool(session, tenant_id, asset)
    try:
        held = await ledger.hold(
            session,
            tenant_id=tenant_id,
            idempotency_key=f"redeem:{row.id}",
            kind="reward.redemption",
            from_account=wallet.id,
            to_account=pool.id,
            amount=item.coin_cost,
            metadata={"reason": "redemption", "reference": str(row.id), "user_id": str(user_id)},
        )
    except InsufficientFunds as exc:
        available = await coins.balance(session, tenant_id, user_id, asset)
        raise errors.InsufficientCoins(
            details={"needed": item.coin_cost, "available": available}
        ) from exc
    row.hold_id = held.id
    session.add(
        RedemptionTransition(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            redemption_id=row.id,
            from_status=None,
            to_status="pending",
            created_at=clock.utcnow(),
        )
    )
    await session.flush()
    await publish(
        session,
        "reward.redeemed",
        tenant_id,
        {
            "redemption_id": row.id,
            "item_id": item.id,
            "user_id": user_id,
            "coin_cost": item.coin_cost,
        },
    )
    await session.refresh(row)
    await defer(
        session, FULFIL_TASK, args={"tenant_id": str(tenant_id), "redemption_id": str(row.id)}
    )
    # Stock last: buyers of one item queue on its row lock only until commit.
    if item.stock != -1:
        taken = await session.scalar(
            update(CatalogItem)
            .where(CatalogItem.id == item.id, CatalogItem.stock > 0)
            .values(stock=CatalogItem.stock - 1)
            .returning(CatalogItem.stock)
            .execution_options(synchronize_session=False)
        )
        if taken is None:
            raise errors.OutOfStock()
    return row, True
