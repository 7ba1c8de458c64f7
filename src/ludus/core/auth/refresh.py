"""Refresh tokens: 30 days, stored hashed, rotated on every use.

The tokens of one AuthSession form a family. Presenting a token that was already rotated
out means it was copied: the whole family and its session are revoked (theft detection).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.auth import principal_cache, repository
from ludus.core.auth.errors import InvalidRefreshToken, RefreshTokenReused
from ludus.core.auth.models import AuthSession, RefreshToken
from ludus.core.kit import clock, crypto
from ludus.core.kit.db import set_system_scope, set_tenant
from ludus.core.kit.settings import get_settings

PREFIX = "rt_"


async def issue(session: AsyncSession, auth_session: AuthSession, now: datetime) -> str:
    raw, _ = await _issue(session, auth_session, now)
    return raw


async def _issue(
    session: AsyncSession, auth_session: AuthSession, now: datetime
) -> tuple[str, uuid.UUID]:
    raw = PREFIX + crypto.new_token(32)
    row = RefreshToken(
        id=uuid.uuid4(),
        tenant_id=auth_session.tenant_id,
        user_id=auth_session.user_id,
        session_id=auth_session.id,
        token_hash=crypto.hash_token(raw),
        expires_at=now + timedelta(days=get_settings().refresh_token_ttl_days),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return raw, row.id


async def rotate(session: AsyncSession, raw: str) -> tuple[AuthSession, str]:
    """Spend `raw` and return its session with a fresh token of the same family."""
    await set_system_scope(session)  # the tenant is not known until the token is found
    row = await repository.refresh_by_hash(session, crypto.hash_token(raw))
    if row is None:
        raise InvalidRefreshToken()
    if row.tenant_id is not None:
        await set_tenant(session, row.tenant_id)
    now = clock.utcnow()
    if row.used_at is not None:
        await _revoke_family_and_raise(session, row, now)
    if row.revoked_at is not None or row.expires_at <= now:
        raise InvalidRefreshToken()
    auth_session = await repository.get_auth_session(session, row.session_id)
    if auth_session is None or auth_session.revoked_at is not None:
        raise InvalidRefreshToken()
    if not await repository.claim_refresh(session, row.id, now):
        # Another request spent it first: this one is a replay.
        await _revoke_family_and_raise(session, row, now)
    new_raw, new_id = await _issue(session, auth_session, now)
    row.replaced_by_id = new_id
    return auth_session, new_raw


async def _revoke_family_and_raise(
    session: AsyncSession, row: RefreshToken, now: datetime
) -> NoReturn:
    # The request fails anyway: end its transaction first so no lock it holds can make the
    # revoking transaction below wait on this very request.
    family = (row.tenant_id, row.user_id, row.session_id)
    await session.rollback()
    tenant_id, user_id, session_id = family
    async with repository.independent_session(tenant_id) as side:
        await side.execute(
            update(RefreshToken)
            .where(RefreshToken.session_id == session_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await side.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        principal_cache.invalidate_on_commit(side)
        await audit.record(
            side,
            action="auth.refresh_reuse_detected",
            tenant_id=tenant_id,
            actor_user_id=user_id,
            target_type="auth_session",
            target_id=session_id,
        )
    raise RefreshTokenReused()
