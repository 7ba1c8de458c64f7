"""Organizations and members: settings, branding, plan, M-Pesa config, invites, import."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.auth.models import Membership, Role, User
from ludus.core.kit import clock, crypto
from ludus.core.kit.errors import Forbidden, NotFound, error_code
from ludus.core.kit.settings import get_settings
from ludus.core.tenancy import repository as tenant_repo
from ludus.core.tenancy.models import Tenant
from ludus.savings import accounts, repository, storage
from ludus.savings.imports import RowError, parse_members_csv
from ludus.savings.models import Member, MemberStatus, SavingsOrg
from ludus.savings.schemas import Branding, MemberIn, MpesaConfigIn, OrgUpdate

MPESA_PURPOSE = "savings.mpesa_config"
TOKEN_PURPOSE = "savings.callback_token"
MemberExists = error_code(409, "SAVINGS_MEMBER_EXISTS", "A member with this phone already exists.")
AccountRefTaken = error_code(409, "SAVINGS_ACCOUNT_REF_TAKEN", "This account reference is taken.")
MemberInactive = error_code(409, "SAVINGS_MEMBER_INACTIVE", "The member is deactivated.")
NotSavingsOrg = error_code(403, "SAVINGS_NOT_ENABLED", "Savings is not enabled for this tenant.")
SAVINGS_KINDS = frozenset({"chama", "sacco", "mfi", "bank_partner"})
# Safaricom's published callback source addresses; an org may replace the list.
SAFARICOM_IPS = (
    "196.201.214.200",
    "196.201.214.206",
    "196.201.213.114",
    "196.201.214.207",
    "196.201.214.208",
    "196.201.213.44",
    "196.201.212.127",
    "196.201.212.138",
    "196.201.212.129",
    "196.201.212.136",
    "196.201.212.74",
    "196.201.212.69",
)


async def ensure_org(session: AsyncSession, tenant: Tenant) -> SavingsOrg:
    """The tenant's savings settings, created (with its ledger accounts) on first use."""
    org = await repository.get_org(session, tenant.id)
    if org is not None:
        return org
    if str(tenant.kind) not in SAVINGS_KINDS and "savings" not in (tenant.products or []):
        raise NotSavingsOrg(details={"kind": str(tenant.kind)})
    clearing, suspense = await accounts.open_org_accounts(session, tenant.id)
    await session.execute(
        insert(SavingsOrg)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            branding={},
            subscription_tier="free",
            subscription_status="trial",
            mpesa_environment="sandbox",
            callback_allowed_ips=list(SAFARICOM_IPS),
            clearing_account_id=clearing,
            suspense_account_id=suspense,
        )
        .on_conflict_do_nothing(constraint="uq_savings_orgs_tenant_id")
    )
    org = await repository.get_org(session, tenant.id)
    assert org is not None
    return org


async def org_for(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[Tenant, SavingsOrg]:
    tenant = await tenant_repo.get_tenant(session, tenant_id)
    return tenant, await ensure_org(session, tenant)


def _org_snapshot(tenant: Tenant, org: SavingsOrg) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "branding": org.branding,
        "logo_key": org.logo_key,
        "subscription_tier": str(org.subscription_tier),
        "subscription_status": str(org.subscription_status),
        "mpesa_shortcode": org.mpesa_shortcode,
    }


async def _audit(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    actor: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        action=f"savings.{action}",
        tenant_id=tenant_id,
        actor_user_id=actor,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
    )


async def update_org(
    session: AsyncSession, tenant_id: uuid.UUID, data: OrgUpdate, *, actor: uuid.UUID, system: bool
) -> tuple[Tenant, SavingsOrg]:
    tenant, org = await org_for(session, tenant_id)
    if data.subscription_status is not None and not system:
        raise Forbidden("Only the platform can change the subscription status.")
    before = _org_snapshot(tenant, org)
    if data.name is not None:
        tenant.name = data.name
    if data.subscription_tier is not None:
        org.subscription_tier = data.subscription_tier
    if data.subscription_status is not None:
        org.subscription_status = data.subscription_status
    await session.flush()
    await _audit(
        session,
        tenant_id,
        actor,
        "org_updated",
        "org",
        tenant_id,
        before,
        _org_snapshot(tenant, org),
    )
    return tenant, org


async def set_branding(
    session: AsyncSession, tenant_id: uuid.UUID, data: Branding, *, actor: uuid.UUID
) -> tuple[Tenant, SavingsOrg]:
    tenant, org = await org_for(session, tenant_id)
    before = _org_snapshot(tenant, org)
    org.branding = {**org.branding, **data.model_dump(exclude_none=True)}
    await session.flush()
    await _audit(
        session,
        tenant_id,
        actor,
        "branding_updated",
        "org",
        tenant_id,
        before,
        _org_snapshot(tenant, org),
    )
    return tenant, org


async def set_logo(
    session: AsyncSession, tenant_id: uuid.UUID, data: bytes, *, actor: uuid.UUID
) -> tuple[Tenant, SavingsOrg]:
    ext, _ = storage.sniff_image(data)
    tenant, org = await org_for(session, tenant_id)
    key = storage.logo_key(str(tenant_id), data, ext)
    storage.get_storage().put(
        key, data
    )  # content-addressed: a rolled-back request leaves an orphan only
    before = _org_snapshot(tenant, org)
    org.logo_key = key
    await session.flush()
    await _audit(
        session,
        tenant_id,
        actor,
        "logo_uploaded",
        "org",
        tenant_id,
        before,
        _org_snapshot(tenant, org),
    )
    return tenant, org


def logo_url(tenant: Tenant, org: SavingsOrg) -> str | None:
    if not org.logo_key:
        return None
    version = org.logo_key.rsplit("/", 1)[-1][:12]
    return f"/api/v1/savings/organizations/{tenant.id}/logo?v={version}"


async def set_mpesa_config(
    session: AsyncSession, tenant_id: uuid.UUID, data: MpesaConfigIn, *, actor: uuid.UUID
) -> SavingsOrg:
    _, org = await org_for(session, tenant_id)
    secrets = data.model_dump(exclude={"callback_allowed_ips", "environment", "shortcode"})
    org.mpesa_config_enc = crypto.encrypt(orjson.dumps(secrets).decode(), purpose=MPESA_PURPOSE)
    org.mpesa_shortcode = data.shortcode
    org.mpesa_environment = data.environment
    if data.callback_allowed_ips is not None:
        org.callback_allowed_ips = list(data.callback_allowed_ips)
    await session.flush()
    # The audit trail records that it changed, never the secrets.
    await _audit(
        session,
        tenant_id,
        actor,
        "mpesa_config_updated",
        "org",
        tenant_id,
        after={
            "shortcode": data.shortcode,
            "environment": data.environment,
            "callback_allowed_ips": org.callback_allowed_ips,
        },
    )
    return org


def mpesa_secrets(org: SavingsOrg) -> dict[str, str] | None:
    if not org.mpesa_config_enc:
        return None
    loaded: dict[str, str] = orjson.loads(
        crypto.decrypt(org.mpesa_config_enc, purpose=MPESA_PURPOSE)
    )
    return loaded


def current_token(org: SavingsOrg) -> str | None:
    """The callback token is kept sealed (not hashed): STK requests must put it in their URL."""
    return (
        crypto.decrypt(org.callback_token_enc, purpose=TOKEN_PURPOSE)
        if org.callback_token_enc
        else None
    )


@dataclass(frozen=True)
class RotatedToken:
    token: str
    urls: dict[str, str]


def callback_urls(slug: str, token: str) -> dict[str, str]:
    base = f"{get_settings().public_base_url.rstrip('/')}/api/v1/savings/mpesa/{slug}/{token}"
    return {
        "c2b_validation_url": f"{base}/validation",
        "c2b_confirmation_url": f"{base}/confirmation",
        "stk_callback_url": f"{base}/stk",
    }


async def rotate_callback_token(
    session: AsyncSession, tenant_id: uuid.UUID, *, actor: uuid.UUID | None
) -> RotatedToken:
    tenant, org = await org_for(session, tenant_id)
    token = crypto.new_token(24)
    org.callback_token_enc = crypto.encrypt(token, purpose=TOKEN_PURPOSE)
    await session.flush()
    await _audit(session, tenant_id, actor, "callback_token_rotated", "org", tenant_id)
    return RotatedToken(token, callback_urls(tenant.slug, token))


# --- members ---------------------------------------------------------------------------


async def _user_for_phone(session: AsyncSession, phone: str, name: str, email: str | None) -> User:
    """People are global: an existing user with this phone joins; otherwise one is created."""
    found = (await session.execute(select(User).where(User.phone == phone))).scalar_one_or_none()
    if found is not None:
        return found
    await session.execute(
        insert(User)
        .values(
            id=uuid.uuid4(),
            phone=phone,
            display_name=name[:100],
            locale="en",
            timezone="Africa/Nairobi",
            status="active",
            email=None,
            is_system_admin=False,
            failed_logins=0,
            mfa_enabled=False,
        )
        .on_conflict_do_nothing(index_elements=["phone"])
    )
    user = (await session.execute(select(User).where(User.phone == phone))).scalar_one()
    return user


def default_account_ref(phone: str) -> str:
    return phone.lstrip("+")


async def _create_member(session: AsyncSession, tenant_id: uuid.UUID, data: MemberIn) -> Member:
    user = await _user_for_phone(session, data.phone, data.name, data.email)
    role = Role.tenant_admin if data.role == "admin" else Role.member
    await session.execute(
        insert(Membership)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, user_id=user.id, role=role, status="active")
        .on_conflict_do_nothing(constraint="uq_memberships_tenant_id_user_id")
    )
    member = Member(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user.id,
        phone=data.phone,
        name=data.name,
        email=data.email,
        account_ref=(data.account_ref or default_account_ref(data.phone)).upper(),
        role=data.role,
        status=MemberStatus.active,
        referred_by=data.referred_by,
        savings_account_id=await accounts.open_member_account(session, tenant_id, user.id),
    )
    session.add(member)
    await session.flush()
    return member


async def invite_member(
    session: AsyncSession, tenant_id: uuid.UUID, data: MemberIn, *, actor: uuid.UUID | None
) -> Member:
    await org_for(session, tenant_id)
    if await repository.member_by_phone(session, tenant_id, data.phone):
        raise MemberExists(details={"phone": data.phone})
    ref = (data.account_ref or default_account_ref(data.phone)).upper()
    if await repository.member_by_ref(session, tenant_id, ref):
        raise AccountRefTaken(details={"account_ref": ref})
    if data.referred_by and not await repository.get_member(session, tenant_id, data.referred_by):
        raise NotFound("The referring member was not found.")
    member = await _create_member(session, tenant_id, data)
    await _audit(
        session,
        tenant_id,
        actor,
        "member_invited",
        "member",
        member.id,
        after={"phone": member.phone, "name": member.name, "role": str(member.role)},
    )
    return member


async def import_members(
    session: AsyncSession, tenant_id: uuid.UUID, data: bytes, *, actor: uuid.UUID
) -> tuple[list[Member], list[RowError]]:
    await org_for(session, tenant_id)
    parsed = parse_members_csv(data)
    errors = list(parsed.errors)
    phones, refs = await repository.existing_phones_and_refs(
        session,
        tenant_id,
        [r.phone for r in parsed.rows],
        [r.account_ref or default_account_ref(r.phone).upper() for r in parsed.rows],
    )
    created: list[Member] = []
    for row in parsed.rows:
        ref = (row.account_ref or default_account_ref(row.phone)).upper()
        if row.phone in phones:
            errors.append(RowError(row.line, "ALREADY_MEMBER", "Already a member.", row.phone))
            continue
        if ref in refs:
            errors.append(RowError(row.line, "ACCOUNT_REF_TAKEN", "Account reference taken.", ref))
            continue
        data_in = MemberIn(phone=row.phone, name=row.name, email=row.email, account_ref=ref)
        created.append(await _create_member(session, tenant_id, data_in))
        refs.add(ref)
    errors.sort(key=lambda e: e.line)
    await _audit(
        session,
        tenant_id,
        actor,
        "members_imported",
        "org",
        tenant_id,
        after={"imported": len(created), "failed": len(errors)},
    )
    return created, errors


async def get_member_or_404(
    session: AsyncSession, tenant_id: uuid.UUID, member_id: uuid.UUID
) -> Member:
    member = await repository.get_member(session, tenant_id, member_id)
    if member is None:
        raise NotFound("Member not found.")
    return member


async def deactivate_member(
    session: AsyncSession, tenant_id: uuid.UUID, member_id: uuid.UUID, *, actor: uuid.UUID
) -> Member:
    member = await get_member_or_404(session, tenant_id, member_id)
    if member.status == MemberStatus.deactivated:
        return member  # repeating the request changes nothing
    member.status = MemberStatus.deactivated
    member.deactivated_at = clock.utcnow()
    membership = await session.execute(
        select(Membership).where(
            Membership.tenant_id == tenant_id, Membership.user_id == member.user_id
        )
    )
    row = membership.scalar_one_or_none()
    if row is not None:
        row.status = "disabled"
    await session.flush()
    await _audit(
        session,
        tenant_id,
        actor,
        "member_deactivated",
        "member",
        member.id,
        before={"status": "active"},
        after={"status": "deactivated"},
    )
    return member
