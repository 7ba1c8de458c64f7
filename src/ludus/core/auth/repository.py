"""Auth queries. Tenant tables are filtered by tenant here as well as by RLS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth import principal_cache
from ludus.core.auth.models import (
    ApiKey,
    AuthSession,
    ChildProfile,
    Family,
    Membership,
    OtpChallenge,
    PasswordResetToken,
    RefreshToken,
    TrustedDevice,
    User,
)
from ludus.core.kit import driver
from ludus.core.kit.db import get_database
from ludus.core.kit.repository import one_in_tenant


@asynccontextmanager
async def independent_session(tenant_id: uuid.UUID | None) -> AsyncIterator[AsyncSession]:
    """A separate unit of work that commits even when the request fails.

    Failed sign-ins, spent OTP attempts and theft revocations must stick although the
    request answers 4xx (and its own transaction is rolled back).
    """
    async with get_database().session(tenant_id=tenant_id, system=tenant_id is None) as s:
        yield s


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


_PROFILE = (
    "SELECT id, email, phone, display_name, birthdate, locale, timezone, status, mfa_enabled"
    " FROM users WHERE id = %s"
)


async def read_profile(tenant_id: uuid.UUID | None, user_id: uuid.UUID) -> Any | None:
    """The user's profile columns (what `GET /me` shows), in one round trip."""
    rows = await driver.read_scoped(tenant_id, _PROFILE, (user_id,), system=tenant_id is None)
    return rows[0] if rows else None


async def get_membership(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Membership | None:
    return await one_in_tenant(session, Membership, tenant_id, Membership.user_id == user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email.lower()))
    return result.scalar_one_or_none()


async def get_user_by_phone(session: AsyncSession, phone: str) -> User | None:
    result = await session.execute(select(User).where(User.phone == phone))
    return result.scalar_one_or_none()


# Sessions and refresh tokens


async def get_auth_session(session: AsyncSession, session_id: uuid.UUID) -> AuthSession | None:
    return await session.get(AuthSession, session_id)


async def live_sessions(
    session: AsyncSession, tenant_id: uuid.UUID | None, user_id: uuid.UUID
) -> Sequence[AuthSession]:
    query = select(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    query = query.where(
        AuthSession.tenant_id == tenant_id
        if tenant_id is not None
        else AuthSession.tenant_id.is_(None)
    )
    rows = await session.execute(
        query.order_by(AuthSession.last_active_at.desc().nulls_last(), AuthSession.id)
    )
    return rows.scalars().all()


async def revoke_sessions(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    now: datetime,
    session_ids: Sequence[uuid.UUID] | None = None,
    except_id: uuid.UUID | None = None,
    device_id: str | None = None,
    tenant_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    """Revoke matching live sessions and their refresh tokens; returns the revoked ids."""
    query = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if session_ids is not None:
        query = query.where(AuthSession.id.in_(session_ids))
    if except_id is not None:
        query = query.where(AuthSession.id != except_id)
    if device_id is not None:
        query = query.where(AuthSession.device_id == device_id)
    if tenant_id is not None:
        query = query.where(AuthSession.tenant_id == tenant_id)
    result = await session.execute(query.values(revoked_at=now).returning(AuthSession.id))
    revoked = list(result.scalars().all())
    if revoked:
        principal_cache.invalidate_on_commit(session)
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id.in_(revoked), RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return revoked


async def refresh_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    result = await session.execute(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    )
    return result.scalar_one_or_none()


async def claim_refresh(session: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    """Mark the token used, atomically; False if another request got there first."""
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == token_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
        .returning(RefreshToken.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


# OTP challenges and trusted devices


async def latest_challenge(
    session: AsyncSession, tenant_id: uuid.UUID, purpose: str, destination: str
) -> OtpChallenge | None:
    result = await session.execute(
        select(OtpChallenge)
        .where(
            OtpChallenge.tenant_id == tenant_id,
            OtpChallenge.purpose == purpose,
            OtpChallenge.destination == destination,
        )
        .order_by(OtpChallenge.created_at.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def challenge_by_token(session: AsyncSession, token_hash: str) -> OtpChallenge | None:
    result = await session.execute(
        select(OtpChallenge).where(OtpChallenge.token_hash == token_hash)
    )
    return result.scalar_one_or_none()


async def trusted_device(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, device_hash: str
) -> TrustedDevice | None:
    result = await session.execute(
        select(TrustedDevice).where(
            TrustedDevice.tenant_id == tenant_id,
            TrustedDevice.user_id == user_id,
            TrustedDevice.device_hash == device_hash,
        )
    )
    return result.scalar_one_or_none()


# Password reset


async def reset_token_by_hash(session: AsyncSession, token_hash: str) -> PasswordResetToken | None:
    result = await session.execute(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == token_hash)
    )
    return result.scalar_one_or_none()


async def claim_reset_token(session: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    result = await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == token_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .returning(PasswordResetToken.id)
    )
    return result.first() is not None


async def expire_reset_tokens(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )


# API keys


async def api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    result = await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
    return result.scalar_one_or_none()


async def list_api_keys(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[ApiKey]:
    result = await session.execute(
        select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at.desc())
    )
    return result.scalars().all()


async def get_api_key(
    session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | None:
    return await one_in_tenant(session, ApiKey, tenant_id, ApiKey.id == key_id)


# Families and children


async def family_of_owner(
    session: AsyncSession, tenant_id: uuid.UUID, owner_id: uuid.UUID
) -> Family | None:
    return await one_in_tenant(session, Family, tenant_id, Family.owner_user_id == owner_id)


async def family_by_code(session: AsyncSession, tenant_id: uuid.UUID, code: str) -> Family | None:
    return await one_in_tenant(session, Family, tenant_id, Family.code == code.upper())


async def family_children(
    session: AsyncSession, tenant_id: uuid.UUID, family_id: uuid.UUID
) -> Sequence[tuple[ChildProfile, User]]:
    result = await session.execute(
        select(ChildProfile, User)
        .join(User, User.id == ChildProfile.user_id)
        .where(ChildProfile.tenant_id == tenant_id, ChildProfile.family_id == family_id)
        .order_by(ChildProfile.created_at, ChildProfile.username)
    )
    return [(row[0], row[1]) for row in result.all()]


async def child_in_family(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    family_id: uuid.UUID,
    *,
    username: str | None = None,
    user_id: uuid.UUID | None = None,
) -> ChildProfile | None:
    query = select(ChildProfile).where(
        ChildProfile.tenant_id == tenant_id, ChildProfile.family_id == family_id
    )
    if user_id is not None:
        query = query.where(ChildProfile.user_id == user_id)
    else:
        query = query.where(ChildProfile.username == (username or "").lower())
    result = await session.execute(query)
    return result.scalar_one_or_none()
