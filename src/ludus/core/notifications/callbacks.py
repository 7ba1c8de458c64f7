"""Delivery-status callbacks from providers.

Twilio signs each callback (`X-Twilio-Signature`, checked with the twilio library's
RequestValidator against the tenant's auth token). Africa's Talking does not sign its
delivery reports, so the callback URL carries a per-tenant secret token instead. A bad
signature or token → 401 INVALID_SIGNATURE and nothing is recorded.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from twilio.request_validator import RequestValidator

from ludus.core.http.ratelimit import exempt_prefix
from ludus.core.http.session import DbSession
from ludus.core.kit.crypto import constant_time_equal
from ludus.core.kit.db import set_tenant
from ludus.core.kit.errors import error_code
from ludus.core.kit.schemas import Envelope, ok
from ludus.core.kit.settings import get_settings
from ludus.core.notifications import config, manage
from ludus.core.notifications.models import MessageStatus
from ludus.core.notifications.schemas import CallbackOut
from ludus.core.tenancy.models import Tenant
from ludus.core.tenancy.service import get_by_slug_or_404

router = APIRouter(prefix="/notifications/callbacks", tags=["notifications-callbacks"])
# Provider callbacks are verified by signature; the per-IP API limit would drop bursts.
exempt_prefix("/api/v1/notifications/callbacks/")
InvalidSignature = error_code(
    401, "INVALID_SIGNATURE", "The callback signature could not be verified."
)

TWILIO_STATUSES = {
    "sent": MessageStatus.sent,
    "delivered": MessageStatus.delivered,
    "read": MessageStatus.delivered,
    "failed": MessageStatus.failed,
    "undelivered": MessageStatus.failed,
    "canceled": MessageStatus.failed,
}
AFRICASTALKING_STATUSES = {
    "Sent": MessageStatus.sent,
    "Submitted": MessageStatus.sent,
    "Buffered": MessageStatus.sent,
    "Success": MessageStatus.delivered,
    "Failed": MessageStatus.failed,
    "Rejected": MessageStatus.failed,
    "AbsentSubscriber": MessageStatus.failed,
    "Expired": MessageStatus.failed,
}


def _twilio_urls(request: Request) -> list[str]:
    """Twilio signs the URL it called: ours as configured publicly, or as this server saw it
    (they differ behind a proxy)."""
    query = f"?{request.url.query}" if request.url.query else ""
    public = get_settings().public_base_url.rstrip("/") + request.url.path + query
    return list(dict.fromkeys([public, str(request.url)]))


async def _tenant(session: DbSession, slug: str) -> Tenant:
    tenant = await get_by_slug_or_404(session, slug)
    await set_tenant(session, tenant.id)
    return tenant


@router.post("/twilio/{tenant_slug}", response_model=Envelope[CallbackOut])
async def twilio_status(
    tenant_slug: str, request: Request, session: DbSession
) -> Envelope[CallbackOut]:
    tenant = await _tenant(session, tenant_slug)
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    signature = request.headers.get("x-twilio-signature", "")
    token = config.provider_config(tenant, "twilio").get("auth_token")
    if not token or not signature:
        raise InvalidSignature()
    validator = RequestValidator(str(token))
    if not any(validator.validate(url, params, signature) for url in _twilio_urls(request)):
        raise InvalidSignature()
    sid, raw = params.get("MessageSid") or params.get("SmsSid"), params.get("MessageStatus", "")
    if not sid:
        return ok(CallbackOut(recorded=False))
    message = await manage.apply_provider_status(
        session,
        tenant_id=tenant.id,
        provider="twilio",
        provider_message_id=sid,
        status=TWILIO_STATUSES.get(raw),
        raw_status=raw,
        error=params.get("ErrorCode"),
    )
    return ok(CallbackOut(recorded=message is not None))


@router.post("/africastalking/{tenant_slug}", response_model=Envelope[CallbackOut])
async def africastalking_status(
    tenant_slug: str,
    request: Request,
    session: DbSession,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Envelope[CallbackOut]:
    tenant = await _tenant(session, tenant_slug)
    expected = config.provider_config(tenant, "africastalking").get("callback_token")
    if not expected or not token or not constant_time_equal(str(expected), token):
        raise InvalidSignature()
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    message_id, raw = params.get("id"), params.get("status", "")
    if not message_id:
        return ok(CallbackOut(recorded=False))
    message = await manage.apply_provider_status(
        session,
        tenant_id=tenant.id,
        provider="africastalking",
        provider_message_id=message_id,
        status=AFRICASTALKING_STATUSES.get(raw),
        raw_status=raw,
        error=params.get("failureReason"),
    )
    return ok(CallbackOut(recorded=message is not None))
