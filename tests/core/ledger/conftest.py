from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.core.ledger.helpers import World, build_world
from tests.factories import make_tenant


@pytest.fixture
async def world(db, session: AsyncSession) -> World:
    """A tenant with wallets and a hot account, inside the rolled-back `session`."""
    tenant = await make_tenant(db)
    return await build_world(session, tenant.id)
