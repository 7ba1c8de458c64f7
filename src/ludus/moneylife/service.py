"""The game service core: load a game under lock, run the engine, persist the result.

Hot path (advance-day, card-decision): one SELECT … FOR UPDATE (with the tenant's content
revision), the engine in memory, one UPDATE of the game row, upserts of only the changed
projection rows, and the outbox rows. Services never commit.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.moneylife import anticheat, bulk, codec, decks, projections, repository
from ludus.moneylife import events as ev
from ludus.moneylife.engine import ActionError, Content, GameState, advance_day, create_game
from ludus.moneylife.engine import apply_action as engine_apply
from ludus.moneylife.engine.calendar import month_index
from ludus.moneylife.errors import GameNotFound, StaleState, engine_error
from ludus.moneylife.models import Game, table_of

START_YEAR = 2027
QUALIFYING = ("resolve_card", "transfer", "set_budget", "advance_day")


@dataclass
class Loaded:
    row: Any  # the game row (named tuple) plus `content_revision`
    state: GameState
    content: Content

    @property
    def game_id(self) -> uuid.UUID:
        value: uuid.UUID = self.row.id
        return value

    @property
    def tenant_id(self) -> uuid.UUID:
        value: uuid.UUID = self.row.tenant_id
        return value

    @property
    def user_id(self) -> uuid.UUID:
        value: uuid.UUID = self.row.user_id
        return value

    @property
    def start(self) -> date:
        value: date = self.row.start_date
        return value


@dataclass
class Step:
    """What one request did to a game: the new state and the engine events."""

    state: GameState
    events: list[dict[str, Any]]
    result: dict[str, Any] = field(default_factory=dict)
    game_events: list[ev.GameEvent] = field(default_factory=list)


async def load(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    game_id: uuid.UUID,
    user_id: uuid.UUID | None,
    *,
    lock: bool = True,
) -> Loaded:
    """The caller's game (404 for anyone else's: no hint that it exists)."""
    row = await repository.lock_game(session, tenant_id, game_id, lock=lock)
    if user_id is not None and row.user_id != user_id:
        raise GameNotFound()
    content = await decks.content_for(session, row.tenant_id, row.content_revision)
    return Loaded(row, codec.loads(row.state), content)


def check_version(loaded: Loaded, expected: int | None) -> None:
    if expected is not None and expected != loaded.row.state_version:
        raise StaleState(details={"current_version": loaded.row.state_version})


def prepare(loaded: Loaded, kind: str, now: datetime) -> dict[str, Any]:
    """Before the engine runs: a qualifying action extends the game's daily streak, whose
    multiplier the engine applies to XP and coins."""
    if kind not in QUALIFYING:
        return {}
    today = now.date()
    last: date | None = loaded.row.streak_last_action_date
    current: int = loaded.row.streak_current
    if last == today:
        return {}
    current = current + 1 if last == today - timedelta(days=1) else 1
    loaded.state.streak = current
    return {
        "streak_current": current,
        "streak_longest": max(current, loaded.row.streak_longest),
        "streak_last_action_date": today,
    }


def run_action(loaded: Loaded, action: dict[str, Any]) -> Step:
    """One player action through the engine; a rejection raises its 4xx error."""
    state, outcome, events = engine_apply(loaded.state, action, loaded.content)
    if outcome["status"] != "accepted":
        raise engine_error(outcome["code"], outcome.get("message", ""))
    return Step(state, events, outcome["result"])


def run_advance(loaded: Loaded, state: GameState | None = None, *, auto: bool = False) -> Step:
    base = state or loaded.state
    new, events = advance_day(base, None, loaded.content, auto=auto)
    errors = [e for e in events if e["type"] == "ERROR"]
    if errors:
        raise engine_error(errors[0]["code"], current_version=base.state_version)
    return Step(new, events)


def derive_events(
    loaded: Loaded, old: GameState, step: Step, *, automated: bool = False
) -> list[ev.GameEvent]:
    """§10.1 events from the engine's events. A system-driven day (batch month-end) is not
    player activity, so it emits no `game.day.advanced` (streak trackers read that)."""
    t, g, u = loaded.tenant_id, loaded.game_id, loaded.user_id
    new = step.state
    out: list[ev.GameEvent] = []
    for e in step.events:
        kind = e["type"]
        if kind == "CARD_RESOLVED":
            out.append(
                ev.game_event(
                    ev.CARD_RESOLVED,
                    t,
                    g,
                    u,
                    card_id=e["card_id"],
                    card_instance_id=e["card_instance_id"],
                    option=e["option"],
                    xp=e["xp"],
                    coins=e["coins"],
                    amount=1,
                )
            )
        elif kind == "MONTH_END":
            report = e["report"]
            out.append(
                ev.game_event(
                    ev.MONTH_ENDED,
                    t,
                    g,
                    u,
                    month=e["month"],
                    report=report,
                    amount=report["budget_score"],
                )
            )
        elif kind == "LEVEL_UP":
            out.append(
                ev.game_event(
                    ev.LEVEL_UP,
                    t,
                    g,
                    u,
                    new_level=e["cleared"] + 1,
                    cleared=e["cleared"],
                    amount=e["cleared"],
                )
            )
        elif kind == "BANKRUPTCY":
            out.append(ev.game_event(ev.BANKRUPTCY, t, g, u, count=e["count"]))
        elif kind == "DAY_ADVANCED" and not automated:
            summary = sorted({x["type"] for x in step.events if x["type"] not in ("txn", "move")})
            out.append(
                ev.game_event(
                    ev.DAY_ADVANCED, t, g, u, game_date=e["date"], events=summary, amount=1
                )
            )
    if new.endless and not old.endless:
        out.append(
            ev.game_event(
                ev.COMPLETED,
                t,
                g,
                u,
                final_stats={
                    "net_worth": new.net_worth,
                    "chi": new.chi,
                    "level": new.level,
                    "total_xp": new.total_xp,
                    "coins": new.coins,
                    "months_played": new.months_played,
                },
            )
        )
    return out


def rewards_columns(loaded: Loaded, new: GameState, events: list[ev.GameEvent]) -> dict[str, Any]:
    """Put the XP and coins earned since the last event on the first event of this step."""
    if not events:
        return {}
    xp = max(0, new.total_xp - loaded.row.xp_reported)
    coins = max(0, new.coins - loaded.row.coins_reported)
    events[0].data["xp_award"] = xp
    events[0].data["coins_award"] = coins
    return {"xp_reported": new.total_xp, "coins_reported": new.coins}


def bankruptcy_end(st: GameState) -> date | None:
    if st.bankruptcy_month < 0:
        return None
    end = st.bankruptcy_month + 24
    return date(end // 12, end % 12 + 1, 1)


async def persist(
    session: AsyncSession,
    loaded: Loaded,
    step: Step,
    *,
    automated: bool,
    card_id: str | None = None,
    kind: str = "",
    device_id: str | None = None,
    now: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the game row, changed projections, anti-cheat flags and events."""
    now = now or clock.utcnow()
    old, new = loaded.state, step.state
    values = repository.game_columns(new, loaded.content, loaded.start)
    blob = codec.dumps(new)
    values.update(
        state=blob.decode(),
        state_checksum=codec.checksum_of(blob),
        bankruptcy_end_date=bankruptcy_end(new),
        updated_at=now,
        **(extra or {}),
    )
    flags: list[anticheat.Flag] = []
    if not automated:
        values["last_played_at"] = now
        if kind == "resolve_card":
            values["recent_decisions"], flag = anticheat.decision(loaded.row.recent_decisions, now)
            flags += [flag] if flag else []
        elif kind == "advance_day":
            values["recent_advances"], flag = anticheat.advance(loaded.row.recent_advances, now)
            flags += [flag] if flag else []
        if device_id:
            flag = anticheat.device(
                loaded.row.last_device_id, loaded.row.last_device_at, device_id, now
            )
            flags += [flag] if flag else []
            values.update(last_device_id=device_id, last_device_at=now)
    for e in step.events:
        if e["type"] == "MONTH_END":
            flags += anticheat.month_jumps(e["report"], old.chi)
    changes = projections.diff(
        loaded.game_id,
        loaded.tenant_id,
        loaded.start,
        old,
        new,
        step.events,
        automated=automated or kind == "advance_day",
        card_id=card_id,
        now=now,
    )
    step.game_events = derive_events(loaded, old, step, automated=automated)
    values.update(rewards_columns(loaded, new, step.game_events))
    batch = bulk.Batch()
    batch.update(repository.GAMES, [{"id": loaded.game_id, **values}], texts=("state",))
    projections.write(batch, changes)
    anticheat.queue(
        batch,
        flags,
        tenant_id=loaded.tenant_id,
        game_id=loaded.game_id,
        user_id=loaded.user_id,
        now=now,
    )
    await ev.emit_many(session, step.game_events, batch)
    await batch.flush(session)


async def new_game(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    persona: str,
    difficulty: str,
    currency_code: str,
    seed: int | None = None,
    match_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, GameState]:
    revision = await decks.current_revision(session, tenant_id)
    content = await decks.content_for(session, tenant_id, revision)
    seed = seed if seed is not None else random.SystemRandom().randrange(1, 2**62)
    game_id = uuid.uuid4()
    try:
        state, _ = create_game(
            content, persona, difficulty, currency_code, seed, str(game_id), start_year=START_YEAR
        )
    except ActionError as err:
        raise engine_error(err.code, err.message) from err
    start = date(state.year, state.month, 1)
    now = clock.utcnow()
    blob = codec.dumps(state)
    values = repository.game_columns(state, content, start)
    values.update(
        id=game_id,
        tenant_id=tenant_id,
        user_id=user_id,
        persona=persona,
        difficulty=difficulty,
        currency_code=currency_code,
        ppp_factor=Decimal(content.regions[currency_code].ppp),
        content_version=content.version,
        start_date=start,
        random_seed=seed,
        state=blob.decode(),
        state_checksum=codec.checksum_of(blob),
        match_id=match_id,
        streak_current=0,
        streak_longest=0,
        recent_decisions=[],
        recent_advances=[],
        xp_reported=state.total_xp,
        coins_reported=state.coins,
        bankruptcy_end_date=None,
        created_at=now,
        updated_at=now,
    )
    await session.execute(insert(table_of(Game)).values(**values))
    changes = projections.diff(game_id, tenant_id, start, None, state, [], automated=True, now=now)
    batch = bulk.Batch()
    projections.write(batch, changes)
    await ev.emit_many(
        session,
        [
            ev.game_event(
                ev.GAME_CREATED,
                tenant_id,
                game_id,
                user_id,
                persona=persona,
                difficulty=difficulty,
                net_worth=state.net_worth,
                chi=state.chi,
            )
        ],
        batch,
    )
    await batch.flush(session)
    return game_id, state


def month_of(st: GameState) -> int:
    return month_index(st.year, st.month)
