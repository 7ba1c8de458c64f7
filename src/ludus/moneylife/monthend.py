"""Month-end at scale: every game sitting on its month's last day crosses month-end.

`plan` snapshots the due games and their `state_version`s into a run of fixed-size batches
and defers one Procrastinate job per batch in the same transaction. `process_batch` runs
one batch in one transaction: lock the batch row, lock its games (SKIP LOCKED: a game a
player is moving right now crosses month-end on their own request), run the engine's day
advance (auto mode: pending cards expire) on each game whose version is still the planned
one, write all games, projections and events with one statement per table, and mark the
batch done. A crash rolls the whole batch back; re-running it (job retry or
`ludus moneylife month-end --resume`) cannot process a game twice, because a processed
game's version moved on and a done batch is skipped.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.jobs.defer import JobSpec, defer_many
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.moneylife import anticheat, bulk, codec, decks, projections, repository, service
from ludus.moneylife import events as ev
from ludus.moneylife.engine import advance_day
from ludus.moneylife.models import MonthEndBatch, MonthEndRun, table_of

BATCH_TASK = "moneylife.month_end_batch"
QUEUE = "moneylife"
DEFAULT_BATCH = 500
GAMES = table_of(repository.m.Game)
# Test hook: called with each game id before it is processed (simulates a crash).
before_game: Callable[[uuid.UUID], None] | None = None


async def plan(session: AsyncSession, batch_size: int = DEFAULT_BATCH) -> tuple[uuid.UUID, int]:
    """Create a run over every due game and defer its batch jobs; returns (run id, games)."""
    rows = (
        await session.execute(
            select(GAMES.c.id, GAMES.c.state_version)
            .where(GAMES.c.month_end_due, GAMES.c.status == "active")
            .order_by(GAMES.c.id)
        )
    ).all()
    run_id = uuid.uuid4()
    session.add(
        MonthEndRun(
            id=run_id,
            status="running" if rows else "done",
            total_games=len(rows),
            batch_size=batch_size,
            finished_at=None if rows else clock.utcnow(),
        )
    )
    await session.flush()
    batches: list[dict[str, Any]] = []
    for no, start in enumerate(range(0, len(rows), batch_size)):
        chunk = rows[start : start + batch_size]
        batches.append(
            {
                "run_id": run_id,
                "batch_no": no,
                "game_ids": [r.id for r in chunk],
                "versions": [r.state_version for r in chunk],
                "status": "todo",
                "processed": 0,
                "skipped": 0,
            }
        )
    if batches:
        await session.execute(insert(table_of(MonthEndBatch)), batches)
    await defer_batches(session, run_id, list(range(len(batches))))
    return run_id, len(rows)


async def defer_batches(session: AsyncSession, run_id: uuid.UUID, numbers: list[int]) -> None:
    specs = [
        JobSpec(
            BATCH_TASK,
            {"run_id": str(run_id), "batch_no": n},
            queue=QUEUE,
            lock=f"moneylife-month-end:{run_id}:{n}",
        )
        for n in numbers
    ]
    await defer_many(session, specs)


async def resume(session: AsyncSession, run_id: uuid.UUID) -> int:
    """Re-defer the run's unfinished batches (after a crash); returns how many."""
    todo = (
        (
            await session.execute(
                select(MonthEndBatch.batch_no).where(
                    MonthEndBatch.run_id == run_id, MonthEndBatch.status == "todo"
                )
            )
        )
        .scalars()
        .all()
    )
    await defer_batches(session, run_id, list(todo))
    return len(todo)


@dataclass
class Progress:
    total_games: int
    batches: int
    batches_done: int
    processed: int
    skipped: int
    status: str


async def progress(session: AsyncSession, run_id: uuid.UUID) -> Progress:
    run = await session.get(MonthEndRun, run_id, populate_existing=True)
    if run is None:
        raise LookupError(run_id)
    b = MonthEndBatch
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(b.status == "done"),
                func.coalesce(func.sum(b.processed), 0),
                func.coalesce(func.sum(b.skipped), 0),
            ).where(b.run_id == run_id)
        )
    ).one()
    return Progress(run.total_games, row[0], row[1], int(row[2]), int(row[3]), run.status)


async def process_batch(db: Database, run_id: uuid.UUID, batch_no: int) -> tuple[int, int]:
    """Process one batch in one transaction; returns (processed, skipped)."""
    async with db.session(system=True) as session:
        # The batch is one atomic unit whose loss in a crash is simply redone (versions and
        # batch status roll back together), so its commit need not wait for the WAL flush.
        await session.execute(text("SET LOCAL synchronous_commit TO off"))
        batch = await session.scalar(
            select(MonthEndBatch)
            .where(MonthEndBatch.run_id == run_id, MonthEndBatch.batch_no == batch_no)
            .with_for_update()
        )
        if batch is None or batch.status == "done":
            return 0, 0
        planned = dict(zip(batch.game_ids, batch.versions, strict=True))
        rows = await repository.lock_games(session, batch.game_ids)
        with _no_cyclic_gc():
            done = await _advance_all(session, rows, planned)
        batch.status, batch.processed = "done", done
        batch.skipped = len(planned) - done
        batch.finished_at = clock.utcnow()
        await session.flush()
        left = await session.scalar(
            select(func.count()).where(
                MonthEndBatch.run_id == run_id, MonthEndBatch.status != "done"
            )
        )
        if not left:
            await session.execute(
                update(MonthEndRun)
                .where(MonthEndRun.id == run_id)
                .values(status="done", finished_at=clock.utcnow())
            )
        return done, len(planned) - done


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """A batch builds ~1M short-lived, acyclic objects (states, rows), which would trigger
    several full collections over the whole process heap (~0.1 s each). Reference
    counting frees them; the cycle collector runs again after the batch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def _advance_all(
    session: AsyncSession, rows: list[Any], planned: dict[uuid.UUID, int]
) -> int:
    now = clock.utcnow()
    changes = projections.Changes()
    updates: list[dict[str, Any]] = []
    events: list[ev.GameEvent] = []
    flags: list[tuple[service.Loaded, anticheat.Flag]] = []
    for row in rows:
        if planned.get(row.id) != row.state_version or not row.month_end_due:
            continue
        if before_game is not None:
            before_game(row.id)
        content = await decks.content_for(session, row.tenant_id, row.content_revision)
        loaded = service.Loaded(row, codec.loads(row.state), content)
        new, engine_events = advance_day(loaded.state, None, content, auto=True)
        if any(e["type"] == "ERROR" for e in engine_events):
            continue
        step = service.Step(new, engine_events)
        changes.merge(
            projections.diff(
                row.id,
                row.tenant_id,
                loaded.start,
                loaded.state,
                new,
                engine_events,
                automated=True,
                now=now,
            )
        )
        step.game_events = service.derive_events(loaded, loaded.state, step, automated=True)
        values = repository.game_columns(new, content, loaded.start)
        values.update(service.rewards_columns(loaded, new, step.game_events))
        blob = codec.dumps(new)
        values.update(
            state=blob.decode(),
            state_checksum=codec.checksum_of(blob),
            bankruptcy_end_date=service.bankruptcy_end(new),
            updated_at=now,
            id=row.id,
        )
        values.setdefault("xp_reported", row.xp_reported)
        values.setdefault("coins_reported", row.coins_reported)
        updates.append(values)
        events.extend(step.game_events)
        for e in engine_events:
            if e["type"] == "MONTH_END":
                flags += [(loaded, f) for f in anticheat.month_jumps(e["report"], loaded.state.chi)]
    if not updates:
        return 0
    batch = bulk.Batch()
    batch.update(GAMES, updates, texts=("state",))
    projections.write(batch, changes)
    for loaded, flag in flags:
        anticheat.queue(
            batch,
            [flag],
            tenant_id=loaded.tenant_id,
            game_id=loaded.game_id,
            user_id=loaded.user_id,
            now=now,
        )
    await ev.emit_many(session, events, batch)
    await batch.flush(session)
    return len(updates)
