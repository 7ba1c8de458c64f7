"""Run an async unit of work from a synchronous CLI command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.db import get_database, set_database

T = TypeVar("T")


def run_in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Open the configured database, run `work` in one system-scope transaction, close."""

    async def main() -> T:
        db = get_database()
        try:
            async with db.session(system=True) as session:
                return await work(session)
        finally:
            await db.dispose()
            set_database(None)

    return asyncio.run(main())
