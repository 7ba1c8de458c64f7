"""/.well-known/jwks.json: public keys for verifying Ludus access tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ludus.core.auth.tokens import jwks
from ludus.core.http.session import DbSession
from ludus.core.kit.db import set_system_scope

router = APIRouter(tags=["auth"])


@router.get("/.well-known/jwks.json")
async def jwks_document(session: DbSession) -> dict[str, Any]:
    await set_system_scope(session)
    return await jwks(session)
