"""Sign-up and sign-in: email + password (lockout, second factor), phone OTP, passwords."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.auth import mfa, otp, passwords, repository
from ludus.core.auth.errors import AccountLocked, EmailTaken, InvalidCredentials, PhoneTaken
from ludus.core.auth.models import Membership, Role, User, UserStatus
from ludus.core.auth.schemas import LoginIn, OtpVerifyIn, RegisterIn
from ludus.core.auth.sessions import ClientInfo, IssuedTokens, role_in, start_session
from ludus.core.http.ratelimit import get_rate_limiter
from ludus.core.kit import clock
from ludus.core.kit.db import set_system_scope
from ludus.core.kit.settings import get_settings
from ludus.core.notifications.models import Channel
from ludus.core.tenancy.models import Tenant, TenantKind


@dataclass(frozen=True)
class SignedIn:
    user: User
    tokens: IssuedTokens
    is_new: bool = False


def default_role(tenant: Tenant) -> Role:
    """Who signs up on their own: parents in family apps, members elsewhere."""
    return Role.parent if tenant.kind == TenantKind.family_app else Role.member


def brand(tenant: Tenant) -> str:
    return str(tenant.theme.get("brand_name") or tenant.name)


async def check_login_rate(ip: str | None) -> None:
    """5 sign-in attempts per 15 minutes per IP (settings.login_rate_limit)."""
    await get_rate_limiter().check(get_settings().login_rate_limit, "login", ip or "unknown")


def ensure_not_locked(user: User) -> None:
    if user.locked_until is not None and user.locked_until > clock.utcnow():
        raise AccountLocked(details={"locked_until": user.locked_until.isoformat()})


async def record_failed_login(user: User, tenant_id: uuid.UUID | None, method: str) -> None:
    """Count the failure (committed even though the request fails); lock at the threshold."""
    settings = get_settings()
    now = clock.utcnow()
    locked_until: datetime | None = None
    async with repository.independent_session(tenant_id) as side:
        count = await side.scalar(
            update(User)
            .where(User.id == user.id)
            .values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)
        )
        await audit.record(
            side,
            action="auth.login_failed",
            tenant_id=tenant_id,
            actor_user_id=user.id,
            target_type="user",
            target_id=user.id,
            after={"method": method, "failed_logins": count},
        )
        if count is not None and count >= settings.lockout_threshold:
            locked_until = now + timedelta(minutes=settings.lockout_minutes)
            await side.execute(
                update(User)
                .where(User.id == user.id)
                .values(failed_logins=0, locked_until=locked_until)
            )
            await audit.record(
                side,
                action="auth.account_locked",
                tenant_id=tenant_id,
                actor_user_id=user.id,
                target_type="user",
                target_id=user.id,
                after={"locked_until": locked_until.isoformat()},
            )
    if locked_until is not None:
        raise AccountLocked(details={"locked_until": locked_until.isoformat()})


def clear_failures(user: User) -> None:
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None


async def add_membership(session: AsyncSession, tenant: Tenant, user: User, role: Role) -> None:
    session.add(Membership(id=uuid.uuid4(), tenant_id=tenant.id, user_id=user.id, role=role))
    await session.flush()


async def register(
    session: AsyncSession, tenant: Tenant, data: RegisterIn, client: ClientInfo
) -> SignedIn:
    passwords.check_strength(data.password, email=data.email)
    existing = await repository.get_user_by_email(session, data.email)
    if existing is not None:
        # Someone known elsewhere on the platform joins this tenant with their own password;
        # that is a password check, so it gets the sign-in limits and lockout too.
        if await repository.get_membership(session, tenant.id, existing.id) is not None:
            raise EmailTaken()
        await check_login_rate(client.ip)
        ensure_not_locked(existing)
        if not await passwords.verify_async(existing.password_hash, data.password):
            await record_failed_login(existing, tenant.id, "register")
            raise EmailTaken()
        user, is_new = existing, False
    else:
        if data.phone and await repository.get_user_by_phone(session, data.phone):
            raise PhoneTaken()
        user = User(
            id=uuid.uuid4(),
            email=data.email,
            phone=data.phone,
            password_hash=await passwords.hash_async(data.password),
            display_name=data.display_name,
            birthdate=data.birthdate,
            locale=data.locale or tenant.default_locale,
            timezone=data.timezone or tenant.timezone,
            status=UserStatus.active,
        )
        session.add(user)
        await session.flush()
        is_new = True
    role = default_role(tenant)
    await add_membership(session, tenant, user, role)
    await audit.record(
        session,
        action="auth.registered",
        tenant_id=tenant.id,
        actor_user_id=user.id,
        target_type="user",
        target_id=user.id,
        after={"method": "password", "role": role.value, "new_user": is_new},
    )
    tokens = await start_session(session, user=user, tenant_id=tenant.id, role=role, client=client)
    return SignedIn(user, tokens, is_new)


async def login(
    session: AsyncSession, tenant: Tenant | None, data: LoginIn, client: ClientInfo
) -> SignedIn | mfa.MfaChallenge:
    await check_login_rate(client.ip)
    tenant_id = tenant.id if tenant else None
    if tenant is None:
        await set_system_scope(session)  # a platform sign-in: only system admins get through
    user = await repository.get_user_by_email(session, data.email)
    if user is None or user.password_hash is None:
        await passwords.verify_async(None, data.password)
        raise InvalidCredentials()
    ensure_not_locked(user)
    if not await passwords.verify_async(user.password_hash, data.password):
        await record_failed_login(user, tenant_id, "password")
        raise InvalidCredentials()
    role = await role_in(session, user, tenant_id)
    if role is None:
        raise InvalidCredentials()
    clear_failures(user)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash_async(data.password)
    if user.mfa_enabled and not (
        tenant is not None and await mfa.device_trusted(session, tenant.id, user.id, data.device_id)
    ):
        return await mfa.start(
            session, user=user, tenant=tenant, device_id=data.device_id, platform=client.platform
        )
    return await finish_login(session, user, tenant_id, role, client, "password")


async def finish_login(
    session: AsyncSession,
    user: User,
    tenant_id: uuid.UUID | None,
    role: Role,
    client: ClientInfo,
    method: str,
    *,
    is_new: bool = False,
) -> SignedIn:
    tokens = await start_session(session, user=user, tenant_id=tenant_id, role=role, client=client)
    await audit.record(
        session,
        action="auth.login_succeeded",
        tenant_id=tenant_id,
        actor_user_id=user.id,
        target_type="auth_session",
        target_id=tokens.session_id,
        after={"method": method, "device_id": client.device_id},
    )
    return SignedIn(user, tokens, is_new)


async def complete_mfa(
    session: AsyncSession, *, mfa_token: str, code: str, trust: bool, client: ClientInfo
) -> SignedIn:
    challenge, user = await mfa.verify(session, mfa_token=mfa_token, code=code, trust=trust)
    role = await role_in(session, user, challenge.tenant_id)
    if role is None:
        raise InvalidCredentials()
    device = ClientInfo(client.ip, client.user_agent, challenge.device_id, challenge.platform)
    return await finish_login(session, user, challenge.tenant_id, role, device, "password+otp")


async def request_phone_code(session: AsyncSession, tenant: Tenant, phone: str) -> otp.SentCode:
    user = await repository.get_user_by_phone(session, phone)
    return await otp.send_code(
        session,
        tenant_id=tenant.id,
        purpose="login",
        destination=phone,
        channel=Channel.sms,
        brand=brand(tenant),
        user_id=user.id if user else None,
    )


async def verify_phone_code(
    session: AsyncSession, tenant: Tenant, data: OtpVerifyIn, client: ClientInfo
) -> SignedIn:
    await otp.verify_login_code(session, tenant.id, data.phone, data.code)
    user = await repository.get_user_by_phone(session, data.phone)
    is_new = user is None
    if user is None:
        user = User(
            id=uuid.uuid4(),
            phone=data.phone,
            display_name=data.display_name or "Player",
            locale=tenant.default_locale,
            timezone=tenant.timezone,
            status=UserStatus.active,
        )
        session.add(user)
        await session.flush()
    if await repository.get_membership(session, tenant.id, user.id) is None:
        await add_membership(session, tenant, user, default_role(tenant))
        await audit.record(
            session,
            action="auth.registered",
            tenant_id=tenant.id,
            actor_user_id=user.id,
            target_type="user",
            target_id=user.id,
            after={"method": "phone_otp", "new_user": is_new},
        )
    role = await role_in(session, user, tenant.id)
    if role is None:
        raise InvalidCredentials()
    return await finish_login(session, user, tenant.id, role, client, "phone_otp", is_new=is_new)
