"""Savings routes: organizations, members, transactions and the M-Pesa callbacks."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.http.ratelimit import exempt_prefix
from ludus.core.http.session import DbSession
from ludus.core.kit.db import set_tenant
from ludus.core.kit.errors import NotFound
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.core.tenancy.models import Tenant
from ludus.savings import deposits, inbox, repository, service, storage
from ludus.savings.auth import OrgAdmin, OrgUser, is_admin, own_org, require_self_or_admin
from ludus.savings.imports import BadCsv
from ludus.savings.models import CallbackKind, DepositStatus, MemberStatus, SavingsOrg
from ludus.savings.mpesa.factory import adapter_for
from ludus.savings.schemas import (
    Branding,
    CallbackUrls,
    DepositOut,
    ImportReport,
    ImportRowError,
    MatchIn,
    MemberIn,
    MemberOut,
    MpesaConfigIn,
    MpesaConfigOut,
    OrgOut,
    OrgUpdate,
    StkPushIn,
    StkRequestOut,
)

router = APIRouter(prefix="/savings", tags=["savings"])

# M-Pesa posts every org's callbacks from a few Safaricom addresses, in month-end bursts;
# they are verified by token and source list instead of the per-caller API limit.
for _path in ("/api/v1/savings/mpesa/", "/api/v1/savings/transactions/verify/"):
    exempt_prefix(_path)


def _org_out(tenant: Tenant, org: SavingsOrg) -> OrgOut:
    return OrgOut(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        type=str(tenant.kind),
        branding=org.branding,
        logo_url=service.logo_url(tenant, org),
        subscription_tier=org.subscription_tier,
        subscription_status=org.subscription_status,
        mpesa=MpesaConfigOut(
            configured=org.mpesa_config_enc is not None,
            shortcode=org.mpesa_shortcode,
            environment=org.mpesa_environment,
            callback_allowed_ips=org.callback_allowed_ips,
            callback_token_set=org.callback_token_enc is not None,
        ),
    )


@router.get("/organizations/{org_id}", response_model=Envelope[OrgOut])
async def get_org(org_id: uuid.UUID, principal: OrgUser, session: DbSession) -> Envelope[OrgOut]:
    tenant, org = await service.org_for(session, own_org(principal, org_id))
    return ok(_org_out(tenant, org))


@router.patch("/organizations/{org_id}", response_model=Envelope[OrgOut])
async def patch_org(
    org_id: uuid.UUID, body: OrgUpdate, principal: OrgAdmin, session: DbSession
) -> Envelope[OrgOut]:
    tenant, org = await service.update_org(
        session,
        own_org(principal, org_id),
        body,
        actor=principal.require_user(),
        system=principal.is_system_admin,
    )
    return ok(_org_out(tenant, org))


@router.post("/organizations/{org_id}/branding", response_model=Envelope[OrgOut])
async def post_branding(
    org_id: uuid.UUID, body: Branding, principal: OrgAdmin, session: DbSession
) -> Envelope[OrgOut]:
    tenant, org = await service.set_branding(
        session, own_org(principal, org_id), body, actor=principal.require_user()
    )
    return ok(_org_out(tenant, org))


@router.post("/organizations/{org_id}/logo", response_model=Envelope[OrgOut])
async def post_logo(
    org_id: uuid.UUID, file: UploadFile, principal: OrgAdmin, session: DbSession
) -> Envelope[OrgOut]:
    data = await file.read(storage.MAX_LOGO_BYTES + 1)
    tenant, org = await service.set_logo(
        session, own_org(principal, org_id), data, actor=principal.require_user()
    )
    return ok(_org_out(tenant, org))


@router.get("/organizations/{org_id}/logo", response_class=Response)
async def get_logo(org_id: uuid.UUID, session: DbSession) -> Response:
    """Public, like the tenant theme: the branded app shows it before sign-in."""
    await set_tenant(session, org_id)
    org = await repository.get_org(session, org_id)
    data = storage.get_storage().get(org.logo_key) if org and org.logo_key else None
    if org is None or data is None or org.logo_key is None:
        raise NotFound("No logo.")
    media = storage.MEDIA_TYPES[org.logo_key.rsplit(".", 1)[-1]]
    return Response(data, media_type=media, headers={"Cache-Control": "public, max-age=86400"})


@router.put("/organizations/{org_id}/mpesa", response_model=Envelope[OrgOut])
async def put_mpesa(
    org_id: uuid.UUID, body: MpesaConfigIn, principal: OrgAdmin, session: DbSession
) -> Envelope[OrgOut]:
    tenant_id = own_org(principal, org_id)
    await service.set_mpesa_config(session, tenant_id, body, actor=principal.require_user())
    tenant, org = await service.org_for(session, tenant_id)
    return ok(_org_out(tenant, org))


@router.post("/organizations/{org_id}/mpesa/callback-token", response_model=Envelope[CallbackUrls])
async def rotate_token(
    org_id: uuid.UUID, principal: OrgAdmin, session: DbSession
) -> Envelope[CallbackUrls]:
    rotated = await service.rotate_callback_token(
        session, own_org(principal, org_id), actor=principal.require_user()
    )
    return ok(CallbackUrls(token=rotated.token, **rotated.urls))


# --- members -----------------------------------------------------------------------------


@router.get("/members", response_model=PageEnvelope[MemberOut])
async def list_members(
    principal: OrgAdmin,
    session: DbSession,
    page: PageQuery,
    status_: Annotated[MemberStatus | None, Query(alias="status")] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> PageEnvelope[MemberOut]:
    rows, total = await repository.list_members(
        session,
        principal.require_tenant(),
        status=status_,
        search=q,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([MemberOut.model_validate(m) for m in rows], total, page)


@router.post("/members", response_model=Envelope[MemberOut], status_code=status.HTTP_201_CREATED)
async def invite_member(
    body: MemberIn, principal: OrgAdmin, session: DbSession
) -> Envelope[MemberOut]:
    member = await service.invite_member(
        session, principal.require_tenant(), body, actor=principal.user_id
    )
    return ok(MemberOut.model_validate(member))


@router.post("/members/import", response_model=Envelope[ImportReport])
async def import_members(
    request: Request, principal: OrgAdmin, session: DbSession
) -> Envelope[ImportReport]:
    """CSV as the body (text/csv) or as a multipart `file` field."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise BadCsv("Send the CSV in a `file` field.")
        data = await upload.read()
    else:
        data = await request.body()
    created, errors = await service.import_members(
        session, principal.require_tenant(), data, actor=principal.require_user()
    )
    return ok(
        ImportReport(
            imported=len(created),
            failed=len(errors),
            members=[MemberOut.model_validate(m) for m in created],
            errors=[
                ImportRowError(line=e.line, code=e.code, message=e.message, value=e.value)
                for e in errors
            ],
        )
    )


@router.get("/members/{member_id}", response_model=Envelope[MemberOut])
async def get_member(
    member_id: uuid.UUID, principal: OrgUser, session: DbSession
) -> Envelope[MemberOut]:
    member = await service.get_member_or_404(session, principal.require_tenant(), member_id)
    require_self_or_admin(principal, member.user_id)
    return ok(MemberOut.model_validate(member))


@router.post("/members/{member_id}/deactivate", response_model=Envelope[MemberOut])
async def deactivate(
    member_id: uuid.UUID, principal: OrgAdmin, session: DbSession
) -> Envelope[MemberOut]:
    member = await service.deactivate_member(
        session, principal.require_tenant(), member_id, actor=principal.require_user()
    )
    return ok(MemberOut.model_validate(member))


# --- transactions ------------------------------------------------------------------------


@router.get("/transactions", response_model=PageEnvelope[DepositOut])
async def list_transactions(
    principal: OrgUser,
    session: DbSession,
    page: PageQuery,
    status_: Annotated[DepositStatus | None, Query(alias="status")] = None,
    member_id: uuid.UUID | None = None,
) -> PageEnvelope[DepositOut]:
    tenant_id = principal.require_tenant()
    if not is_admin(principal):
        own = await repository.member_by_user(session, tenant_id, principal.require_user())
        if own is None:
            raise NotFound("You are not a member of this organization.")
        member_id = own.id
    rows, total = await repository.list_deposits(
        session,
        tenant_id,
        member_id=member_id,
        status=status_,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([DepositOut.model_validate(d) for d in rows], total, page)


@router.post("/transactions/{deposit_id}/match", response_model=Envelope[DepositOut])
async def match(
    deposit_id: uuid.UUID, body: MatchIn, principal: OrgAdmin, session: DbSession
) -> Envelope[DepositOut]:
    tenant_id = principal.require_tenant()
    _, org = await service.org_for(session, tenant_id)
    member = await service.get_member_or_404(session, tenant_id, body.member_id)
    deposit = await deposits.match_suspense(
        session, org, deposit_id, member, actor=principal.require_user()
    )
    return ok(DepositOut.model_validate(deposit))


@router.post(
    "/transactions/stk-push",
    response_model=Envelope[StkRequestOut],
    status_code=status.HTTP_201_CREATED,
)
async def stk_push(
    body: StkPushIn, principal: OrgUser, session: DbSession
) -> Envelope[StkRequestOut]:
    tenant_id = principal.require_tenant()
    tenant, org = await service.org_for(session, tenant_id)
    member = await repository.member_by_user(session, tenant_id, principal.require_user())
    if member is None or member.status != MemberStatus.active:
        raise service.MemberInactive("Only active members can deposit.")
    token = (
        service.current_token(org)
        or (await service.rotate_callback_token(session, tenant_id, actor=None)).token
    )
    phone = body.phone or member.phone
    ack = await adapter_for(org).stk_push(
        phone=phone,
        amount=body.amount,
        account_ref=member.account_ref,
        description="Savings",
        callback_url=service.callback_urls(tenant.slug, token)["stk_callback_url"],
    )
    request = await deposits.record_stk_initiation(
        session,
        org,
        checkout_request_id=ack.checkout_request_id,
        merchant_request_id=ack.merchant_request_id,
        member=member,
        amount=body.amount,
        phone=phone,
    )
    return ok(StkRequestOut.model_validate(request))


# --- M-Pesa callbacks (no bearer token: the per-org token in the URL and the source IP) ---

_KINDS = {
    "validation": CallbackKind.c2b_validation,
    "confirmation": CallbackKind.c2b_confirmation,
    "stk": CallbackKind.stk_result,
}
ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


async def _callback(
    slug: str, token: str, kind: CallbackKind, request: Request, session: AsyncSession
) -> JSONResponse:
    client = request.client
    raw = await request.body()
    await inbox.receive(session, slug, token, kind, raw, client.host if client else None)
    return JSONResponse(ACCEPTED)


@router.post("/mpesa/{slug}/{token}/{kind}", include_in_schema=True)
async def mpesa_callback(
    slug: str, token: str, kind: str, request: Request, session: DbSession
) -> JSONResponse:
    if kind not in _KINDS:
        raise NotFound("Unknown callback kind.")
    return await _callback(slug, token, _KINDS[kind], request, session)


@router.post("/transactions/verify/{slug}/{token}")
async def verify_transaction(
    slug: str, token: str, request: Request, session: DbSession
) -> JSONResponse:
    """The spec's webhook path: a C2B confirmation."""
    return await _callback(slug, token, CallbackKind.c2b_confirmation, request, session)
