"""Auth routes: /me and /auth/* (sign-up, sign-in, tokens, passwords, OTP, MFA, devices)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from ludus.core.auth import credentials, mfa, repository, service, sessions
from ludus.core.auth.api_apikeys import router as apikeys_router
from ludus.core.auth.api_children import router as children_router
from ludus.core.auth.api_common import client_info, token_out
from ludus.core.auth.principal import CurrentPrincipal, Principal
from ludus.core.auth.schemas import (
    DeviceOut,
    DevicesOut,
    LoginIn,
    MeOut,
    MfaRequiredOut,
    MfaStatusOut,
    MfaToggleIn,
    MfaVerifyIn,
    OtpRequestIn,
    OtpSentOut,
    OtpVerifyIn,
    PasswordChangeIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RefreshIn,
    RefreshOut,
    RegisterIn,
    TokenOut,
    UserOut,
)
from ludus.core.http.session import DbSession
from ludus.core.kit.errors import Forbidden, NotFound
from ludus.core.kit.schemas import Envelope, Schema, ok
from ludus.core.kit.settings import get_settings
from ludus.core.tenancy.deps import RequestTenant, get_request_tenant, tenant_slug_from_request
from ludus.core.tenancy.models import Tenant

router = APIRouter(tags=["auth"])


class AcceptedOut(Schema):
    accepted: bool = True


async def optional_tenant(request: Request, session: DbSession) -> Tenant | None:
    """The X-Tenant tenant if named (system admins may sign in without one)."""
    if tenant_slug_from_request(request) is None:
        return None
    return await get_request_tenant(request, session)


OptionalTenant = Annotated[Tenant | None, Depends(optional_tenant)]


@router.get("/me", response_model=Envelope[MeOut])
async def me(principal: CurrentPrincipal) -> Envelope[MeOut]:
    user = await repository.read_profile(principal.tenant_id, principal.require_user())
    if user is None:
        raise NotFound("User not found.")
    return ok(
        MeOut(
            user=UserOut.model_validate(user),
            tenant_id=principal.tenant_id,
            role=principal.role.value if principal.role else None,
        )
    )


@router.post("/auth/register", status_code=201, response_model=Envelope[TokenOut])
async def register(
    body: RegisterIn, request: Request, tenant: RequestTenant, session: DbSession
) -> Envelope[TokenOut]:
    platform = body.platform.value if body.platform else None
    signed = await service.register(
        session, tenant, body, client_info(request, body.device_id, platform)
    )
    return ok(token_out(signed))


@router.post("/auth/login", response_model=Envelope[TokenOut | MfaRequiredOut])
async def login(
    body: LoginIn, request: Request, tenant: OptionalTenant, session: DbSession
) -> Envelope[TokenOut | MfaRequiredOut]:
    platform = body.platform.value if body.platform else None
    result = await service.login(
        session, tenant, body, client_info(request, body.device_id, platform)
    )
    if isinstance(result, mfa.MfaChallenge):
        return ok(
            MfaRequiredOut(
                mfa_token=result.mfa_token,
                channel=result.channel,
                destination=result.destination,
                expires_in=result.expires_in,
            )
        )
    return ok(token_out(result))


@router.post("/auth/mfa/verify", response_model=Envelope[TokenOut])
async def mfa_verify(body: MfaVerifyIn, request: Request, session: DbSession) -> Envelope[TokenOut]:
    signed = await service.complete_mfa(
        session,
        mfa_token=body.mfa_token,
        code=body.code,
        trust=body.trust_device,
        client=client_info(request),
    )
    return ok(token_out(signed))


async def _toggle_mfa(
    principal: Principal, session: DbSession, password: str, enabled: bool
) -> Envelope[MfaStatusOut]:
    user = await repository.get_user(session, principal.require_user())
    if user is None:
        raise NotFound("User not found.")
    await mfa.set_enabled(
        session, user=user, tenant_id=principal.tenant_id, password=password, enabled=enabled
    )
    return ok(MfaStatusOut(mfa_enabled=user.mfa_enabled))


@router.post("/auth/mfa/enable", response_model=Envelope[MfaStatusOut])
async def mfa_enable(
    body: MfaToggleIn, principal: CurrentPrincipal, session: DbSession
) -> Envelope[MfaStatusOut]:
    return await _toggle_mfa(principal, session, body.password, True)


@router.post("/auth/mfa/disable", response_model=Envelope[MfaStatusOut])
async def mfa_disable(
    body: MfaToggleIn, principal: CurrentPrincipal, session: DbSession
) -> Envelope[MfaStatusOut]:
    return await _toggle_mfa(principal, session, body.password, False)


@router.post("/auth/refresh", response_model=Envelope[RefreshOut])
async def refresh(body: RefreshIn, session: DbSession) -> Envelope[RefreshOut]:
    tokens = await sessions.rotate_refresh_token(session, body.refresh_token)
    return ok(
        RefreshOut(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_in=tokens.expires_in,
        )
    )


@router.post("/auth/logout", status_code=204, response_class=Response)
async def logout(principal: CurrentPrincipal, session: DbSession) -> Response:
    if principal.session_id is None:
        raise Forbidden("Only a signed-in session can sign out.")
    await sessions.revoke_device(
        session,
        tenant_id=principal.tenant_id,
        user_id=principal.require_user(),
        session_id=principal.session_id,
        action="auth.logout",
    )
    return Response(status_code=204)


@router.post("/auth/password/change", status_code=204, response_class=Response)
async def password_change(
    body: PasswordChangeIn, principal: CurrentPrincipal, session: DbSession
) -> Response:
    await credentials.change_password(session, principal, body.old_password, body.new_password)
    return Response(status_code=204)


@router.post("/auth/password/reset", status_code=202, response_model=Envelope[AcceptedOut])
async def password_reset(
    body: PasswordResetIn, tenant: RequestTenant, session: DbSession
) -> Envelope[AcceptedOut]:
    await credentials.request_reset(session, tenant, body.email)
    return ok(AcceptedOut())


@router.post("/auth/password/reset/confirm", status_code=204, response_class=Response)
async def password_reset_confirm(body: PasswordResetConfirmIn, session: DbSession) -> Response:
    await credentials.confirm_reset(session, body.token, body.new_password)
    return Response(status_code=204)


@router.post("/auth/otp/request", status_code=202, response_model=Envelope[OtpSentOut])
async def otp_request(
    body: OtpRequestIn, tenant: RequestTenant, session: DbSession
) -> Envelope[OtpSentOut]:
    await service.request_phone_code(session, tenant, body.phone)
    settings = get_settings()
    return ok(
        OtpSentOut(
            phone=body.phone,
            expires_in=settings.otp_ttl_seconds,
            resend_after=settings.otp_resend_cooldown_seconds,
        )
    )


@router.post("/auth/otp/verify", response_model=Envelope[TokenOut])
async def otp_verify(
    body: OtpVerifyIn, request: Request, tenant: RequestTenant, session: DbSession
) -> Envelope[TokenOut]:
    platform = body.platform.value if body.platform else None
    signed = await service.verify_phone_code(
        session, tenant, body, client_info(request, body.device_id, platform)
    )
    return ok(token_out(signed))


@router.get("/auth/devices", response_model=Envelope[DevicesOut])
async def devices(principal: CurrentPrincipal, session: DbSession) -> Envelope[DevicesOut]:
    rows = await sessions.list_devices(session, principal.tenant_id, principal.require_user())
    return ok(
        DevicesOut(
            devices=[
                DeviceOut(
                    id=row.id,
                    device_id=row.device_id,
                    platform=row.platform,
                    last_active=row.last_active_at,
                    created_at=row.created_at,
                    is_current=row.id == principal.session_id,
                )
                for row in rows
            ]
        )
    )


@router.delete("/auth/devices/{session_id}", status_code=204, response_class=Response)
async def revoke_device(
    session_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Response:
    await sessions.revoke_device(
        session,
        tenant_id=principal.tenant_id,
        user_id=principal.require_user(),
        session_id=session_id,
    )
    return Response(status_code=204)


router.include_router(children_router)
router.include_router(apikeys_router)
