"""Ledger jobs: pending holds past their expiry are voided every minute."""

from __future__ import annotations

from ludus.core.jobs.registry import periodic
from ludus.core.kit.db import get_database
from ludus.core.ledger.holds import expire_due_holds


@periodic("* * * * *", name="ledger.expire_holds")
async def expire_holds(timestamp: int) -> None:
    async with get_database().session(system=True) as session:
        await expire_due_holds(session)
