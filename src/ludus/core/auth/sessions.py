"""Signed-in sessions (one per device): start, list, revoke; the role a user holds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.auth import refresh, repository, tokens
from ludus.core.auth.models import AuthSession, Role, User, UserStatus
from ludus.core.kit import clock
from ludus.core.kit.errors import NotFound


@dataclass(frozen=True)
class ClientInfo:
    """Where a sign-in comes from."""

    ip: str | None = None
    user_agent: str | None = None
    device_id: str | None = None
    platform: str | None = None


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    role: Role
    tenant_id: uuid.UUID | None


async def role_in(session: AsyncSession, user: User, tenant_id: uuid.UUID | None) -> Role | None:
    """The user's role in the tenant (None: may not sign in there)."""
    if user.status != UserStatus.active:
        return None
    if tenant_id is None:
        return Role.system_admin if user.is_system_admin else None
    membership = await repository.get_membership(session, tenant_id, user.id)
    if membership is not None and membership.status == "active":
        return membership.role
    return Role.system_admin if user.is_system_admin else None


async def access_token_for(
    session: AsyncSession, auth_session: AuthSession, role: Role
) -> tuple[str, int]:
    return await tokens.issue_access_token(
        session,
        user_id=auth_session.user_id,
        tenant_id=auth_session.tenant_id,
        role=role.value,
        session_id=auth_session.id,
        device_id=auth_session.device_id,
    )


async def start_session(
    session: AsyncSession,
    *,
    user: User,
    tenant_id: uuid.UUID | None,
    role: Role,
    client: ClientInfo,
) -> IssuedTokens:
    now = clock.utcnow()
    if client.device_id and tenant_id is not None:
        # Signing in again on a device replaces that device's earlier session.
        await repository.revoke_sessions(
            session, user_id=user.id, now=now, device_id=client.device_id, tenant_id=tenant_id
        )
    auth_session = AuthSession(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user.id,
        device_id=client.device_id,
        platform=client.platform,
        user_agent=(client.user_agent or "")[:400] or None,
        ip=client.ip,
        last_active_at=now,
        created_at=now,
    )
    session.add(auth_session)
    await session.flush()
    refresh_token = await refresh.issue(session, auth_session, now)
    access_token, ttl = await access_token_for(session, auth_session, role)
    return IssuedTokens(access_token, refresh_token, ttl, auth_session.id, role, tenant_id)


async def rotate_refresh_token(session: AsyncSession, raw: str) -> IssuedTokens:
    """Exchange a refresh token for a new pair (the old one is spent)."""
    auth_session, new_refresh = await refresh.rotate(session, raw)
    user = await repository.get_user(session, auth_session.user_id)
    role = await role_in(session, user, auth_session.tenant_id) if user else None
    if role is None:
        from ludus.core.auth.errors import InvalidRefreshToken

        raise InvalidRefreshToken(details={"reason": "no_access"})
    auth_session.last_active_at = clock.utcnow()
    access_token, ttl = await access_token_for(session, auth_session, role)
    return IssuedTokens(
        access_token, new_refresh, ttl, auth_session.id, role, auth_session.tenant_id
    )


async def list_devices(
    session: AsyncSession, tenant_id: uuid.UUID | None, user_id: uuid.UUID
) -> Sequence[AuthSession]:
    return await repository.live_sessions(session, tenant_id, user_id)


async def revoke_device(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    action: str = "auth.session_revoked",
) -> None:
    auth_session = await repository.get_auth_session(session, session_id)
    if (
        auth_session is None
        or auth_session.user_id != user_id
        or auth_session.tenant_id != tenant_id
        or auth_session.revoked_at is not None
    ):
        raise NotFound("Device session not found.")
    await repository.revoke_sessions(
        session, user_id=user_id, now=clock.utcnow(), session_ids=[session_id]
    )
    await audit.record(
        session,
        action=action,
        tenant_id=tenant_id,
        actor_user_id=user_id,
        target_type="auth_session",
        target_id=session_id,
    )
