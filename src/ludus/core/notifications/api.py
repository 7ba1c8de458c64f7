"""Notification routes for the signed-in user: inbox, live stream, preferences, devices.

`router` also carries the admin and provider-callback routes, so the app includes it once.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette.sse import EventSourceResponse

from ludus.core.auth.models import User
from ludus.core.auth.principal import (
    CurrentPrincipal,
    Principal,
    get_principal,
    principal_from_claims,
)
from ludus.core.auth.tokens import verify_access_token
from ludus.core.http.session import DbSession
from ludus.core.kit.errors import NotFound
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.core.notifications import manage, preferences, repository, stream
from ludus.core.notifications.admin_api import router as admin_router
from ludus.core.notifications.callbacks import router as callbacks_router
from ludus.core.notifications.schemas import (
    DeviceIn,
    DeviceOut,
    InboxMessageOut,
    PreferenceOut,
    PreferencesOut,
    PreferencesUpdate,
    QuietHoursIn,
    ReadAllOut,
    UnreadCountOut,
)

router = APIRouter()
inbox = APIRouter(prefix="/notifications", tags=["notifications"])


@inbox.get("", response_model=PageEnvelope[InboxMessageOut])
async def list_notifications(
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    unread: Annotated[bool, Query(description="Only unread notifications.")] = False,
) -> PageEnvelope[InboxMessageOut]:
    rows, total = await repository.list_inbox(
        session,
        tenant_id=principal.require_tenant(),
        user_id=principal.require_user(),
        unread_only=unread,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([InboxMessageOut.model_validate(r) for r in rows], total, page)


@inbox.get("/unread-count", response_model=Envelope[UnreadCountOut])
async def unread_count(principal: CurrentPrincipal, session: DbSession) -> Envelope[UnreadCountOut]:
    count = await repository.unread_count(
        session, tenant_id=principal.require_tenant(), user_id=principal.require_user()
    )
    return ok(UnreadCountOut(count=count))


@inbox.post("/read-all", response_model=Envelope[ReadAllOut])
async def read_all(principal: CurrentPrincipal, session: DbSession) -> Envelope[ReadAllOut]:
    updated = await repository.mark_all_read(
        session, tenant_id=principal.require_tenant(), user_id=principal.require_user()
    )
    return ok(ReadAllOut(updated=updated))


@inbox.post("/{message_id}/read", response_model=Envelope[InboxMessageOut])
async def read_one(
    message_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Envelope[InboxMessageOut]:
    message = await manage.mark_read(
        session,
        tenant_id=principal.require_tenant(),
        user_id=principal.require_user(),
        message_id=message_id,
    )
    return ok(InboxMessageOut.model_validate(message))


async def stream_principal(
    request: Request,
    session: DbSession,
    access_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> Principal:
    """Browsers' EventSource cannot send headers, so the stream also takes `?access_token=`
    (the request log records the path without the query)."""
    if access_token and "authorization" not in request.headers:
        claims = await verify_access_token(access_token, session)
        principal = await principal_from_claims(session, claims)
        request.state.principal = principal
        return principal
    return await get_principal(request)


@inbox.get(
    "/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Live events."}},
)
async def live_stream(
    principal: Annotated[Principal, Depends(stream_principal)],
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> EventSourceResponse:
    """`ready` once listening, then one `notification` event per new in-app message.
    Reconnect with `Last-Event-ID` to receive the ones missed meanwhile."""
    tenant_id, user_id = principal.require_tenant(), principal.require_user()
    return EventSourceResponse(
        stream.events(tenant_id, user_id, last_event_id),
        ping=15,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _preferences_out(
    session: DbSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> PreferencesOut:
    prefs, settings = await repository.list_preferences(
        session, tenant_id=tenant_id, user_id=user_id
    )
    user = await session.get(User, user_id)
    quiet = None
    if settings is not None and settings.quiet_start is not None:
        quiet = QuietHoursIn(start=settings.quiet_start, end=settings.quiet_end)
    return PreferencesOut(
        preferences=[PreferenceOut.model_validate(p) for p in prefs],
        quiet_hours=quiet,
        timezone=user.timezone if user else "UTC",
    )


@inbox.get("/preferences", response_model=Envelope[PreferencesOut])
async def get_preferences(
    principal: CurrentPrincipal, session: DbSession
) -> Envelope[PreferencesOut]:
    return ok(await _preferences_out(session, principal.require_tenant(), principal.require_user()))


@inbox.put("/preferences", response_model=Envelope[PreferencesOut])
async def put_preferences(
    body: PreferencesUpdate, principal: CurrentPrincipal, session: DbSession
) -> Envelope[PreferencesOut]:
    """Set the given choices (others are kept); `quiet_hours: {}` turns quiet hours off."""
    tenant_id, user_id = principal.require_tenant(), principal.require_user()
    for pref in body.preferences:
        await preferences.set_preference(
            session,
            tenant_id=tenant_id,
            user_id=user_id,
            kind=pref.kind,
            channel=pref.channel,
            enabled=pref.enabled,
        )
    if body.quiet_hours is not None:
        await preferences.set_quiet_hours(
            session,
            tenant_id=tenant_id,
            user_id=user_id,
            start=body.quiet_hours.start,
            end=body.quiet_hours.end,
        )
    session.expire_all()
    return ok(await _preferences_out(session, tenant_id, user_id))


@inbox.post("/devices", response_model=Envelope[DeviceOut])
async def register_device(
    body: DeviceIn, principal: CurrentPrincipal, session: DbSession
) -> Envelope[DeviceOut]:
    """Register a push token (idempotent by token)."""
    device = await manage.register_device(
        session,
        tenant_id=principal.require_tenant(),
        user_id=principal.require_user(),
        token=body.token,
        platform=body.platform,
    )
    return ok(DeviceOut.model_validate(device))


@inbox.delete("/devices/{token}", response_model=Envelope[dict[str, bool]])
async def remove_device(
    token: str, principal: CurrentPrincipal, session: DbSession
) -> Envelope[dict[str, bool]]:
    removed = await manage.remove_device(
        session,
        tenant_id=principal.require_tenant(),
        user_id=principal.require_user(),
        token=token,
    )
    if not removed:
        raise NotFound("Device not registered.")
    return ok({"removed": True})


router.include_router(inbox)
router.include_router(admin_router)
router.include_router(callbacks_router)
