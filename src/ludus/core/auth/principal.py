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
from ludus.core.auth.tokens import AccessClaims, verify_access_token, verify_cached
from ludus.core.http.session import request_session, scope_request
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


def _role_and_scope(claims: AccessClaims) -> tuple[Role, bool]:
    """The token's role, and whether it acts in the system scope (no tenant)."""
    try:
        role = Role(claims.role)
    except ValueError as exc:
        raise InvalidToken("Unknown role.") from exc
    if claims.tenant_id is None and role != Role.system_admin:
        raise InvalidToken("Token has no tenant.")
    return role, claims.tenant_id is None


def _principal(claims: AccessClaims, role: Role) -> Principal:
    return Principal(
        user_id=claims.sub,
        tenant_id=claims.tenant_id,
        role=role,
        session_id=claims.sid,
        device_id=claims.device_id,
    )


def _cache_key(claims: AccessClaims) -> principal_cache.Key:
    return (claims.tenant_id, claims.sid, claims.sub)


async def principal_from_claims(session: AsyncSession, claims: AccessClaims) -> Principal:
    """Check the token's session is live and its tenant active, and scope the DB session."""
    role, system = _role_and_scope(claims)
    if system:
        await set_system_scope(session)
    else:
        await set_tenant(session, claims.tenant_id)
    key = _cache_key(claims)
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
    return _principal(claims, role)


async def _confirmed_principal(request: Request, claims: AccessClaims) -> Principal | None:
    """The principal without any database work, when the cache vouches for the token's
    session and tenant; the request is scoped for the session it may make later."""
    role, system = _role_and_scope(claims)
    if not principal_cache.cache.confirmed(_cache_key(claims)):
        return None
    await scope_request(request, claims.tenant_id, system=system)
    return _principal(claims, role)


async def get_principal(request: Request) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = bearer_token(request)
    if token is None:
        api_key = request.headers.get("x-api-key")
        if not api_key:
            raise Unauthorized()
        from ludus.core.auth.apikeys import authenticate_api_key

        principal = await authenticate_api_key(await request_session(request), api_key)
    else:
        claims = verify_cached(token)
        found = await _confirmed_principal(request, claims) if claims is not None else None
        if found is None:
            session = await request_session(request)
            claims = claims or await verify_access_token(token, session)
            found = await principal_from_claims(session, claims)
        principal = found
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
