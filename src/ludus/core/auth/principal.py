"""Who is calling: resolved from the bearer token (or an API key) once per request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated

import structlog
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth import principal_cache
from ludus.core.auth.errors import ScopeRequired
from ludus.core.auth.models import Role
from ludus.core.auth.tokens import AccessClaims, verify_access_token
from ludus.core.http.session import DbSession
from ludus.core.kit.db import set_system_scope, set_tenant
from ludus.core.kit.errors import Forbidden, InvalidToken, TenantSuspended, Unauthorized
from ludus.core.tenancy import repository as tenant_repo
from ludus.core.tenancy.models import Tenant, TenantStatus


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID | None
    tenant_id: uuid.UUID | None
    role: Role | None
    session_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    device_id: str | None = None

    @property
    def is_system_admin(self) -> bool:
        return self.role == Role.system_admin

    def require_user(self) -> uuid.UUID:
        if self.user_id is None:
            raise Forbidden("This action needs a signed-in user.")
        return self.user_id

    def require_tenant(self) -> uuid.UUID:
        if self.tenant_id is None:
            raise Forbidden("This action needs a tenant-scoped credential.")
        return self.tenant_id


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Use 'Authorization: Bearer <token>'.")
    return token.strip()


async def principal_from_claims(session: AsyncSession, claims: AccessClaims) -> Principal:
    """Check the token's session is live and its tenant active, and scope the DB session."""
    try:
        role = Role(claims.role)
    except ValueError as exc:
        raise InvalidToken("Unknown role.") from exc
    if claims.tenant_id is not None:
        await set_tenant(session, claims.tenant_id)
    elif role == Role.system_admin:
        await set_system_scope(session)
    else:
        raise InvalidToken("Token has no tenant.")
    key = (claims.tenant_id, claims.sid, claims.sub)
    generation = principal_cache.cache.generation
    if principal_cache.cache.confirmed(key):
        pass  # checked moments ago, and no revocation or tenant change was heard since
    elif claims.tenant_id is not None:
        # One round trip: the tenant's status and whether the token's session is live.
        status = await tenant_repo.tenant_status_and_session(
            session, claims.tenant_id, claims.sid, claims.sub
        )
        if status is None:
            raise InvalidToken("Unknown tenant.")
        tenant_status, live = status
        if claims.sid is not None and not live:
            raise InvalidToken("This session was signed out.")
        if tenant_status != TenantStatus.active:
            raise TenantSuspended()
    elif claims.sid is not None and not await tenant_repo.session_is_live(
        session, claims.sid, claims.sub
    ):
        raise InvalidToken("This session was signed out.")
    principal_cache.cache.confirm(key, generation)
    return Principal(
        user_id=claims.sub,
        tenant_id=claims.tenant_id,
        role=role,
        session_id=claims.sid,
        device_id=claims.device_id,
    )


async def get_principal(request: Request, session: DbSession) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = bearer_token(request)
    if token is None:
        api_key = request.headers.get("x-api-key")
        if api_key:
            from ludus.core.auth.apikeys import authenticate_api_key

            principal = await authenticate_api_key(session, api_key)
        else:
            raise Unauthorized()
    else:
        claims = await verify_access_token(token, session)
        principal = await principal_from_claims(session, claims)
    request.state.principal = principal
    if principal.tenant_id is not None:
        request.state.tenant_id = str(principal.tenant_id)
    structlog.contextvars.bind_contextvars(
        tenant_id=str(principal.tenant_id) if principal.tenant_id else None,
        user_id=str(principal.user_id) if principal.user_id else None,
    )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role):  # type: ignore[no-untyped-def]
    """Dependency: the caller has one of `roles` in the tenant (system admins always pass)."""
    allowed = frozenset(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.is_system_admin or principal.role in allowed:
            return principal
        raise Forbidden(details={"required_roles": sorted(r.value for r in allowed)})

    return dependency


def require_scope(*scopes: str):  # type: ignore[no-untyped-def]
    """Dependency: API keys need one of `scopes` (or "*"); signed-in users always pass."""
    wanted = frozenset(scopes)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.api_key_id is None or "*" in principal.scopes or wanted & principal.scopes:
            return principal
        raise ScopeRequired(details={"required_scopes": sorted(wanted)})

    return dependency


async def tenant_of(principal: Principal, session: AsyncSession) -> Tenant:
    tenant = await tenant_repo.get_tenant(session, principal.require_tenant())
    tenant_repo.ensure_active(tenant)
    return tenant


TenantAdmin = Annotated[Principal, Depends(require_roles(Role.tenant_admin))]
SystemAdmin = Annotated[Principal, Depends(require_roles())]
