"""Tenant API keys for partner and dashboard integrations (spec 000 §4.5).

Keys look like `lk_live_<prefix>_<secret>`: shown once, stored as SHA-256 (the secret is
256 random bits, so a fast hash is enough), scoped, revocable.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.auth import repository
from ludus.core.auth.errors import InvalidApiKey
from ludus.core.auth.models import ApiKey, Role
from ludus.core.auth.schemas import ApiKeyCreateIn
from ludus.core.kit import clock, crypto
from ludus.core.kit.db import set_system_scope, set_tenant
from ludus.core.kit.errors import NotFound
from ludus.core.tenancy import repository as tenant_repo

if TYPE_CHECKING:
    from ludus.core.auth.principal import Principal

KEY_PREFIX = "lk_live_"
LAST_USED_GRANULARITY = timedelta(minutes=1)


def new_key() -> tuple[str, str]:
    prefix = secrets.token_hex(6)
    return prefix, f"{KEY_PREFIX}{prefix}_{secrets.token_hex(32)}"


async def create_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor_id: uuid.UUID, data: ApiKeyCreateIn
) -> tuple[ApiKey, str]:
    prefix, key = new_key()
    now = clock.utcnow()
    row = ApiKey(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        name=data.name,
        prefix=prefix,
        key_hash=crypto.hash_token(key),
        role=Role(data.role.value),
        scopes=sorted(set(data.scopes)),
        created_by_user_id=actor_id,
        expires_at=now + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="auth.api_key_created",
        tenant_id=tenant_id,
        actor_user_id=actor_id,
        target_type="api_key",
        target_id=row.id,
        after={"name": row.name, "prefix": prefix, "role": row.role.value, "scopes": row.scopes},
    )
    return row, key


async def list_keys(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[ApiKey]:
    return await repository.list_api_keys(session, tenant_id)


async def revoke_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor_id: uuid.UUID | None, key_id: uuid.UUID
) -> None:
    row = await repository.get_api_key(session, tenant_id, key_id)
    if row is None:
        raise NotFound("API key not found.")
    if row.revoked_at is not None:
        return
    row.revoked_at = clock.utcnow()
    await audit.record(
        session,
        action="auth.api_key_revoked",
        tenant_id=tenant_id,
        actor_user_id=actor_id,
        target_type="api_key",
        target_id=row.id,
        after={"name": row.name, "prefix": row.prefix},
    )


async def authenticate_api_key(session: AsyncSession, key: str) -> Principal:
    from ludus.core.auth.principal import Principal

    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        raise InvalidApiKey()
    await set_system_scope(session)  # the tenant is known once the key is found
    row = await repository.api_key_by_hash(session, crypto.hash_token(key))
    now = clock.utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        raise InvalidApiKey()
    await set_tenant(session, row.tenant_id)
    tenant_repo.ensure_active(await tenant_repo.get_tenant(session, row.tenant_id))
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_GRANULARITY:
        # At most one write a minute per key, and none when another request just did it.
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == row.id,
                or_(
                    ApiKey.last_used_at.is_(None),
                    ApiKey.last_used_at < now - LAST_USED_GRANULARITY,
                ),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    return Principal(
        user_id=None,
        tenant_id=row.tenant_id,
        role=row.role,
        api_key_id=row.id,
        scopes=frozenset(row.scopes),
    )
