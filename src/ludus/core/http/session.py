"""The request's database session: created on first use, finished by TransactionMiddleware."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.db import get_database

SESSION_STATE_KEY = "ludus_db_session"


async def request_session(request: Request) -> AsyncSession:
    # async on purpose: FastAPI runs plain-def dependencies in a worker thread.
    state = request.scope.setdefault("state", {})
    session: AsyncSession | None = state.get(SESSION_STATE_KEY)
    if session is None:
        session = get_database().sessionmaker()
        session.info["tenant_id"] = None
        session.info["bypass_rls"] = False
        state[SESSION_STATE_KEY] = session
    return session


DbSession = Annotated[AsyncSession, Depends(request_session)]
