"""Game operations behind the §4.2 endpoints (no HTTP here)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.moneylife import service, views
from ludus.moneylife.engine.calendar import is_trading_day, next_date
from ludus.moneylife.errors import GameDateMismatch
from ludus.moneylife.projections import game_date
from ludus.moneylife.schemas import (
    AdvanceOut,
    CardDecisionOut,
    Consequences,
)
from ludus.moneylife.service import Loaded, Step


@dataclass(frozen=True)
class Player:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    device_id: str | None = None


async def perform(
    session: AsyncSession,
    player: Player,
    game_id: uuid.UUID,
    action: dict[str, Any] | Callable[[Loaded], dict[str, Any]],
    *,
    expected_version: int | None,
    card_id: str | None = None,
) -> tuple[Loaded, Step]:
    """Apply one engine action under the game lock and persist it. `action` may be built
    from the loaded game (dates become game day numbers)."""
    loaded = await service.load(session, player.tenant_id, game_id, player.user_id)
    service.check_version(loaded, expected_version)
    if callable(action):
        action = action(loaded)
    now = clock.utcnow()
    kind = str(action.get("type", ""))
    extra = service.prepare(loaded, kind, now)
    if kind == "resolve_card" and card_id is None:
        instance = action.get("card_instance_id")
        card_id = next((p.card_id for p in loaded.state.pending_cards if p.id == instance), None)
    step = service.run_action(loaded, action)
    await service.persist(
        session,
        loaded,
        step,
        automated=False,
        card_id=card_id,
        kind=kind,
        device_id=player.device_id,
        now=now,
        extra=extra,
    )
    return loaded, step


async def advance(
    session: AsyncSession,
    player: Player,
    game_id: uuid.UUID,
    current_game_date: date,
    expected_version: int,
) -> AdvanceOut:
    loaded = await service.load(session, player.tenant_id, game_id, player.user_id)
    service.check_version(loaded, expected_version)
    today = game_date(loaded.start, loaded.state.day_number)
    if today != current_game_date:
        raise GameDateMismatch(details={"current_game_date": str(today)})
    now = clock.utcnow()
    extra = service.prepare(loaded, "advance_day", now)
    step = service.run_advance(loaded)
    await service.persist(
        session,
        loaded,
        step,
        automated=False,
        kind="advance_day",
        device_id=player.device_id,
        now=now,
        extra=extra,
    )
    new = step.state
    dealt = {e["card_instance_id"] for e in step.events if e["type"] == "CARD_DEALT"}
    cards = [p for p in new.pending_cards if p.id in dealt and p.status == "pending"]
    return AdvanceOut(
        new_game_date=game_date(loaded.start, new.day_number),
        events=views.public_events(step.events),
        new_cards=[views.card_view(p, loaded.content, loaded.start) for p in cards],
        state_version=new.state_version,
    )


async def card_decision(
    session: AsyncSession,
    player: Player,
    game_id: uuid.UUID,
    instance_id: str,
    option_id: str,
    expected_version: int,
) -> CardDecisionOut:
    action = {"type": "resolve_card", "card_instance_id": instance_id, "option_id": option_id}
    loaded, step = await perform(
        session, player, game_id, action, expected_version=expected_version
    )
    old, new = loaded.state, step.state
    res = step.result
    return CardDecisionOut(
        consequences=Consequences(
            balance_changes=views.balance_changes(step.events, new),
            xp=res["xp"],
            coins=res["coins"],
            happiness=(new.happiness - old.happiness) // 10,
            narrative=res["narrative"],
            follow_ups=max(0, len(new.chains) - len(old.chains)),
        ),
        state_version=new.state_version,
    )


def day_number_of(loaded: Loaded, when: date | None) -> int:
    return -1 if when is None else (when - loaded.start).days


async def load_for(session: AsyncSession, player: Player, game_id: uuid.UUID) -> Loaded:
    """Read-only load (no row lock)."""
    return await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)


def next_trading_date(loaded: Loaded) -> date:
    st = loaded.state
    y, m, d = next_date(st.year, st.month, st.day)
    days = 1
    while not is_trading_day(y, m, d):
        y, m, d = next_date(y, m, d)
        days += 1
    return game_date(loaded.start, st.day_number + days)
