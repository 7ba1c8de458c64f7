"""Idempotency jobs: stored responses are kept for 24 hours, then purged daily."""

from __future__ import annotations

from ludus.core.idempotency.store import purge_expired
from ludus.core.jobs.registry import periodic
from ludus.core.kit.db import get_database


@periodic("17 3 * * *", name="idempotency.purge_expired")
async def purge_expired_keys(timestamp: int) -> None:
    async with get_database().session(system=True) as session:
        await purge_expired(session)
