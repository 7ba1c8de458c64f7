"""The request's database session: created on first use, finished by TransactionMiddleware."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.db import get_database, set_system_scope, set_tenant

SESSION_STATE_KEY = "ludus_db_session"
SCOPE_STATE_KEY = "ludus_db_scope"


async def request_session(request: Request) -> AsyncSession:
    # async on purpose: FastAPI runs plain-def dependencies in a worker thread.
    state = request.scope.setdefault("state", {})
    session: AsyncSession | None = state.get(SESSION_STATE_KEY)
    if session is None:
        tenant_id, system = state.get(SCOPE_STATE_KEY, (None, False))
        session = get_database().sessionmaker()
        session.info["tenant_id"] = tenant_id
        session.info["bypass_rls"] = system
        state[SESSION_STATE_KEY] = session
    return session


async def scope_request(request: Request, tenant_id: uuid.UUID | None, *, system: bool) -> None:
    """Scope the request's database work to a tenant (or the system scope): the session
    if it exists, else the one made on first use. A request that needs no database (a
    cached principal and a one-round-trip read) then never makes one."""
    state = request.scope.setdefault("state", {})
    state[SCOPE_STATE_KEY] = (tenant_id, system)
    session: AsyncSession | None = state.get(SESSION_STATE_KEY)
    if session is not None:
        await (set_system_scope(session) if system else set_tenant(session, tenant_id))


DbSession = Annotated[AsyncSession, Depends(request_session)]
