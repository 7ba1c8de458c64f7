from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text

from ludus.core.kit.db import Database
from ludus.core.notifications.models import Channel
from ludus.core.notifications.providers import set_provider


@pytest.fixture(autouse=True)
def _no_provider_overrides() -> Iterator[None]:
    yield
    for channel in Channel:
        set_provider(channel, None)


@pytest.fixture(autouse=True)
async def _purge_delivery_jobs(db: Database) -> AsyncIterator[None]:
    """Delivery jobs a test leaves queued must not run in other modules' run_pending()."""
    yield
    async with db.session(system=True) as s:
        await s.execute(
            text(
                "DELETE FROM procrastinate_jobs"
                " WHERE queue_name = 'notifications' AND status = 'todo'"
            )
        )
