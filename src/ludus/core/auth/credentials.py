"""Password change, reset by emailed single-use token, and admin accounts for the CLI."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.auth import passwords, repository
from ludus.core.auth.errors import ResetTokenInvalid, WeakPassword, WrongPassword
from ludus.core.auth.models import Membership, PasswordResetToken, Role, User, UserStatus
from ludus.core.auth.principal import Principal
from ludus.core.auth.service import brand, clear_failures
from ludus.core.http.ratelimit import get_rate_limiter
from ludus.core.kit import clock, crypto
from ludus.core.kit.db import set_system_scope, set_tenant
from ludus.core.kit.settings import get_settings
from ludus.core.notifications.models import Channel
from ludus.core.notifications.service import send_now
from ludus.core.tenancy.models import Tenant

RESET_TTL = timedelta(hours=1)
RESET_REQUESTS_PER_EMAIL = "3/hour"


async def _revoke_all_sessions(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    scope_back_to: uuid.UUID | None,
    except_id: uuid.UUID | None = None,
) -> int:
    """Sign the user out everywhere (all tenants), then restore the session's tenant scope."""
    await set_system_scope(session)
    revoked = await repository.revoke_sessions(
        session, user_id=user_id, now=clock.utcnow(), except_id=except_id
    )
    if scope_back_to is not None:
        await set_tenant(session, scope_back_to)
    return len(revoked)


async def change_password(
    session: AsyncSession, principal: Principal, old_password: str, new_password: str
) -> None:
    user = await repository.get_user(session, principal.require_user())
    if user is None or not await passwords.verify_async(user.password_hash, old_password):
        raise WrongPassword()
    if old_password == new_password:
        raise WeakPassword(details={"reasons": ["same_as_current"]})
    passwords.check_strength(new_password, email=user.email)
    user.password_hash = await passwords.hash_async(new_password)
    revoked = await _revoke_all_sessions(
        session, user.id, scope_back_to=principal.tenant_id, except_id=principal.session_id
    )
    await audit.record(
        session,
        action="auth.password_changed",
        tenant_id=principal.tenant_id,
        actor_user_id=user.id,
        target_type="user",
        target_id=user.id,
        after={"sessions_revoked": revoked},
    )


async def request_reset(session: AsyncSession, tenant: Tenant, email: str) -> None:
    """Email a reset link if the address belongs to a member; silent otherwise."""
    user = await repository.get_user_by_email(session, email)
    if user is None or user.status != UserStatus.active:
        return
    if await repository.get_membership(session, tenant.id, user.id) is None:
        return
    limit = await get_rate_limiter().hit(RESET_REQUESTS_PER_EMAIL, "reset", email)
    if not limit.allowed:
        return
    now = clock.utcnow()
    token = crypto.new_token(32)
    session.add(
        PasswordResetToken(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            user_id=user.id,
            token_hash=crypto.hash_token(token),
            expires_at=now + RESET_TTL,
            created_at=now,
        )
    )
    link = f"{get_settings().public_base_url}/reset-password?token={token}"
    await send_now(
        session,
        tenant_id=tenant.id,
        channel=Channel.email,
        recipient=email,
        subject=f"Reset your {brand(tenant)} password",
        body=(
            f"Someone asked to reset the password of your {brand(tenant)} account.\n"
            f"Open this link within one hour to choose a new one: {link}\n"
            f"Reset code: {token}\nIf it was not you, ignore this email."
        ),
        kind="password_reset",
        user_id=user.id,
    )
    await audit.record(
        session,
        action="auth.password_reset_requested",
        tenant_id=tenant.id,
        actor_user_id=user.id,
        target_type="user",
        target_id=user.id,
    )


async def confirm_reset(session: AsyncSession, token: str, new_password: str) -> None:
    await set_system_scope(session)  # the tenant is known once the token is found
    row = await repository.reset_token_by_hash(session, crypto.hash_token(token))
    now = clock.utcnow()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise ResetTokenInvalid()
    await set_tenant(session, row.tenant_id)
    user = await repository.get_user(session, row.user_id)
    if user is None or user.status != UserStatus.active:
        raise ResetTokenInvalid()
    passwords.check_strength(new_password, email=user.email)
    if not await repository.claim_reset_token(session, row.id, now):
        raise ResetTokenInvalid()
    await repository.expire_reset_tokens(session, user.id, now)
    user.password_hash = await passwords.hash_async(new_password)
    clear_failures(user)
    revoked = await _revoke_all_sessions(session, user.id, scope_back_to=row.tenant_id)
    await audit.record(
        session,
        action="auth.password_reset",
        tenant_id=row.tenant_id,
        actor_user_id=user.id,
        target_type="user",
        target_id=user.id,
        after={"sessions_revoked": revoked},
    )


async def create_admin(
    session: AsyncSession, *, email: str, password: str, tenant: Tenant | None
) -> User:
    """A system admin (no tenant) or a tenant admin; an existing user gets the new password."""
    email = email.strip().lower()
    passwords.check_strength(password, email=email)
    user = await repository.get_user_by_email(session, email)
    if user is None:
        user = User(
            id=uuid.uuid4(),
            email=email,
            display_name="Administrator",
            locale=tenant.default_locale if tenant else "en",
            timezone=tenant.timezone if tenant else "UTC",
            status=UserStatus.active,
        )
        session.add(user)
    user.password_hash = await passwords.hash_async(password)
    clear_failures(user)
    await session.flush()
    if tenant is None:
        user.is_system_admin = True
    else:
        membership = await repository.get_membership(session, tenant.id, user.id)
        if membership is None:
            session.add(
                Membership(
                    id=uuid.uuid4(), tenant_id=tenant.id, user_id=user.id, role=Role.tenant_admin
                )
            )
        else:
            membership.role = Role.tenant_admin
            membership.status = "active"
    await session.flush()
    await audit.record(
        session,
        action="auth.admin_created",
        tenant_id=tenant.id if tenant else None,
        actor="cli",
        target_type="user",
        target_id=user.id,
        after={"email": email, "role": "tenant_admin" if tenant else "system_admin"},
    )
    return user
