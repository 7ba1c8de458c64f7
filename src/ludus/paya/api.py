"""PaYa member and public routes (admin routes are in admin_api.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect, status
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse

from ludus.core.http.session import DbSession
from ludus.core.kit import clock
from ludus.core.kit.db import get_database
from ludus.core.kit.errors import NotFound
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.core.tenancy import repository as tenant_repo
from ludus.paya import accounts, money, reserve, service, usernames
from ludus.paya import repository as repo
from ludus.paya.auth import PayaMember, PublicTenant
from ludus.paya.feed import get_hub
from ludus.paya.models import Payment, Profile
from ludus.paya.p2p import SentPayment
from ludus.paya.schemas import (
    BankLinkCreate,
    BankLinkOut,
    FeedItem,
    LinkTokenOut,
    MovementCreate,
    MovementOut,
    MyProfile,
    PaymentOut,
    ProfileCreate,
    PublicProfile,
    TransferCreate,
    Transparency,
)

router = APIRouter(prefix="/paya", tags=["paya"])
KEEPALIVE_SECONDS = 15


def idempotency_key(request: Request) -> str | None:
    return request.headers.get("idempotency-key") or request.headers.get("x-idempotency-key")


def public_profile(p: Profile) -> PublicProfile:
    return PublicProfile(
        username=p.username, display_name=p.display_name, bio=p.bio, joined_at=p.created_at
    )


async def my_profile(session: AsyncSession, p: Profile) -> MyProfile:
    config = await accounts.rules(session, p.tenant_id)
    return MyProfile(
        **public_profile(p).model_dump(),
        user_id=p.user_id,
        status=p.status,
        balance=await accounts.member_balance(session, p.tenant_id, p.user_id, p.wallet_account_id),
        pending=await repo.pending_loads(session, p.tenant_id, p.user_id),
        ineligible_until=p.ineligible_until,
        restrictions=service.restrictions(p, config, clock.utcnow()),
    )


def payment_out(p: Payment | SentPayment, me: Any = None) -> PaymentOut:
    direction = None if me is None else ("sent" if p.sender_id == me else "received")
    return PaymentOut(
        id=p.id, sender=p.sender_username, recipient=p.recipient_username, amount=p.amount,
        memo=p.memo, public=p.public, created_at=p.created_at, direction=direction,
    )  # fmt: skip


@router.post("/profile", status_code=status.HTTP_201_CREATED)
async def create_profile(
    data: ProfileCreate, principal: PayaMember, session: DbSession
) -> Envelope[MyProfile]:
    """Claim a unique @username (after signing in with the phone OTP flow)."""
    profile = await service.create_profile(
        session, principal.require_tenant(), principal.require_user(), data
    )
    return ok(await my_profile(session, profile))


@router.get("/me")
async def me(principal: PayaMember, session: DbSession) -> Envelope[MyProfile]:
    tenant_id, user_id = principal.require_tenant(), principal.require_user()
    return ok(await my_profile(session, await service.require_profile(session, tenant_id, user_id)))


@router.get("/users")
async def search_users(
    principal: PayaMember,
    session: DbSession,
    page: PageQuery,
    q: Annotated[str, Query(min_length=1, max_length=21)],
) -> PageEnvelope[PublicProfile]:
    """Members whose username starts with `q` (an optional leading @ is ignored)."""
    rows, total = await repo.search_profiles(
        session, principal.require_tenant(), usernames.like_prefix(q), page.offset, page.limit
    )
    return paginated([public_profile(p) for p in rows], total, page)


@router.get("/users/{username}")
async def get_user(
    username: str, tenant: PublicTenant, session: DbSession
) -> Envelope[PublicProfile]:
    profile = await repo.profile_by_username(session, tenant.id, usernames.normalize(username))
    if profile is None:
        raise NotFound("No member has this username.", details={"username": username})
    return ok(public_profile(profile))


@router.post("/transfers", status_code=status.HTTP_201_CREATED)
async def send(
    data: TransferCreate, request: Request, principal: PayaMember, session: DbSession
) -> Envelope[PaymentOut]:
    """Send tokens to @username. Send an Idempotency-Key: a retry never pays twice."""
    payment = await service.send(
        session,
        tenant_id=principal.require_tenant(),
        sender_user_id=principal.require_user(),
        data=data,
        idempotency_key=idempotency_key(request),
    )
    return ok(payment_out(payment, principal.user_id))


@router.get("/transfers")
async def my_transfers(
    principal: PayaMember, session: DbSession, page: PageQuery
) -> PageEnvelope[PaymentOut]:
    rows, total = await repo.payments_of(
        session, principal.require_tenant(), principal.require_user(), page.offset, page.limit
    )
    return paginated([payment_out(p, principal.user_id) for p in rows], total, page)


@router.post("/bank/link-token")
async def create_link_token(principal: PayaMember) -> Envelope[LinkTokenOut]:
    return ok(LinkTokenOut(link_token=await money.link_token(principal.require_user())))


@router.post("/bank/links", status_code=status.HTTP_201_CREATED)
async def link_bank(
    data: BankLinkCreate, principal: PayaMember, session: DbSession
) -> Envelope[BankLinkOut]:
    link = await money.link_bank(
        session, principal.require_tenant(), principal.require_user(), data.public_token,
        data.account_id,
    )  # fmt: skip
    return ok(BankLinkOut.model_validate(link))


@router.get("/bank/links")
async def bank_links(principal: PayaMember, session: DbSession) -> Envelope[list[BankLinkOut]]:
    rows = await repo.bank_links(session, principal.require_tenant(), principal.require_user())
    return ok([BankLinkOut.model_validate(r) for r in rows])


@router.post("/loads", status_code=status.HTTP_202_ACCEPTED)
async def load(
    data: MovementCreate, request: Request, principal: PayaMember, session: DbSession
) -> Envelope[MovementOut]:
    """Load tokens by ACH pull: pending until the transfer settles (a return voids it)."""
    movement = await money.request_load(
        session, principal.require_tenant(), principal.require_user(), data.amount,
        data.bank_link_id, idempotency_key(request),
    )  # fmt: skip
    return ok(MovementOut.model_validate(movement))


@router.post("/redeems", status_code=status.HTTP_202_ACCEPTED)
async def redeem(
    data: MovementCreate, request: Request, principal: PayaMember, session: DbSession
) -> Envelope[MovementOut]:
    """Redeem tokens to the bank by ACH push (restored if the push fails)."""
    movement = await money.request_redeem(
        session, principal.require_tenant(), principal.require_user(), data.amount,
        data.bank_link_id, idempotency_key(request),
    )  # fmt: skip
    return ok(MovementOut.model_validate(movement))


@router.get("/movements")
async def movements(
    principal: PayaMember, session: DbSession, page: PageQuery
) -> PageEnvelope[MovementOut]:
    rows, total = await repo.movements_of(
        session, principal.require_tenant(), principal.require_user(), page.offset, page.limit
    )
    return paginated([MovementOut.model_validate(m) for m in rows], total, page)


@router.get("/feed")
async def feed(tenant: PublicTenant, session: DbSession, page: PageQuery) -> PageEnvelope[FeedItem]:
    """Public payments, newest first (amounts only if the tenant shows them)."""
    config = await accounts.rules(session, tenant.id)
    rows, total = await repo.feed_page(session, tenant.id, page.offset, page.limit)
    items = [FeedItem.model_validate(service.feed_item(p, config)) for p in rows]
    return paginated(items, total, page)


@router.get("/feed/stream", response_class=EventSourceResponse)
async def feed_stream(request: Request, tenant: PublicTenant) -> EventSourceResponse:
    """Live public payments as Server-Sent Events (`ready` once subscribed, then `payment`)."""
    tenant_id = tenant.id

    async def events() -> AsyncIterator[dict[str, str]]:
        async with get_hub().subscribe(tenant_id) as queue:
            yield {"event": "ready", "data": "{}"}
            while not await request.is_disconnected():
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    continue
                yield {"event": "payment", "id": item["id"], "data": orjson.dumps(item).decode()}

    return EventSourceResponse(events(), ping=KEEPALIVE_SECONDS)


@router.websocket("/feed/ws")
async def feed_socket(websocket: WebSocket, tenant: Annotated[str, Query(max_length=63)]) -> None:
    """The live feed over a WebSocket: `?tenant=<slug>`; messages {type, data}."""
    async with get_database().session(system=True) as session:
        found = await tenant_repo.get_by_slug(session, tenant.lower())
        allowed = (
            found is not None and found.is_active and await accounts.enabled(session, found.id)
        )
    if found is None or not allowed:
        await websocket.close(code=4404)
        return
    await websocket.accept()
    async with get_hub().subscribe(found.id) as queue:
        await websocket.send_json({"type": "ready"})
        receiver = asyncio.create_task(_drain(websocket))
        try:
            while not receiver.done():
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    break
                await websocket.send_json({"type": "payment", "data": getter.result()})
        except WebSocketDisconnect:
            pass
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiver


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


@router.get("/transparency")
async def transparency(tenant: PublicTenant, session: DbSession) -> Envelope[Transparency]:
    """Public backing figures: reserve, circulation, ratio, revenue, distributions, history."""
    return ok(await reserve.transparency(session, tenant.id))
