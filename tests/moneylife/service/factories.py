"""Games created through the service and moved forward in memory (fast setup)."""

from __future__ import annotations

import uuid

from ludus.core.kit.db import Database
from ludus.moneylife import service
from ludus.moneylife.engine import advance_day


async def make_game(
    db: Database,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    days: int = 0,
    persona: str = "young_adult",
    seed: int | None = None,
) -> uuid.UUID:
    """A stored game moved `days` game days forward (cards left pending expire)."""
    async with db.session(tenant_id=tenant_id) as s:
        game_id, _ = await service.new_game(
            s,
            tenant_id=tenant_id,
            user_id=user_id,
            persona=persona,
            difficulty="normal",
            currency_code="USD",
            seed=seed,
        )
    if days:
        async with db.session(tenant_id=tenant_id) as s:
            loaded = await service.load(s, tenant_id, game_id, user_id)
            state, events = loaded.state, []
            for _ in range(days):
                state, evs = advance_day(state, None, loaded.content, auto=True)
                events.extend(evs)
            await service.persist(s, loaded, service.Step(state, events), automated=True)
    return game_id
