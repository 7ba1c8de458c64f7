"""Tenant API keys (placeholder resolution until the API-key flow lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.errors import InvalidToken

if TYPE_CHECKING:
    from ludus.core.auth.principal import Principal


async def authenticate_api_key(session: AsyncSession, key: str) -> Principal:
    raise InvalidToken("Unknown API key.")
