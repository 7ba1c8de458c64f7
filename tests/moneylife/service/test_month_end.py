"""Month-end at scale: batch jobs, resumable after a crash, never processing a game twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from ludus.core.auth.models import Role
from ludus.core.jobs.runner import run_pending
from ludus.core.kit.db import Database
from ludus.moneylife import monthend
from tests.factories import make_tenant, make_user
from tests.moneylife.service.factories import make_game


@pytest.fixture
def crash_hook() -> Iterator[set[uuid.UUID]]:
    """Games in this set make their batch fail (as if the worker died mid-batch)."""
    doomed: set[uuid.UUID] = set()

    def hook(game_id: uuid.UUID) -> None:
        if game_id in doomed:
            raise RuntimeError("simulated crash")

    monthend.before_game = hook
    yield doomed
    monthend.before_game = None


async def _facts(db: Database, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int, int]]:
    """(state_version, reports for January, month.ended events) per game."""
    async with db.session(system=True) as s:
        rows = await s.execute(
            text(
                "SELECT g.id, g.state_version,"
                " (SELECT count(*) FROM moneylife_monthly_reports r WHERE r.game_id = g.id"
                "  AND r.game_month = DATE '2027-01-01'),"
                " (SELECT count(*) FROM event_outbox o WHERE o.event_type = 'game.month.ended'"
                "  AND o.data->>'game_id' = g.id::text)"
                " FROM moneylife_games g WHERE g.id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


class TestMonthEndBatches:
    async def test_crash_mid_batch_then_resume_processes_each_game_once(
        self, db: Database, crash_hook: set[uuid.UUID]
    ) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant, Role.member)
        ids = [await make_game(db, tenant.id, user.id, days=30, seed=100 + n) for n in range(9)]
        await make_game(db, tenant.id, user.id, days=3)  # not due: never planned
        before = await _facts(db, ids)
        assert all(reports == 0 for _, reports, _ in before.values())

        async with db.session(system=True) as s:
            await s.execute(
                text(
                    "UPDATE moneylife_games SET status = 'paused'"
                    " WHERE month_end_due AND id <> ALL(:ids)"
                ),
                {"ids": ids},
            )
            run_id, total = await monthend.plan(s, batch_size=3)
        assert total == 9
        async with db.session(system=True) as s:
            batch1 = await s.scalar(
                text(
                    "SELECT game_ids FROM moneylife_month_end_batches"
                    " WHERE run_id = :r AND batch_no = 1"
                ),
                {"r": run_id},
            )
        crash_hook.add(batch1[1])

        await run_pending(db, queues=[monthend.QUEUE])

        mid = await _facts(db, ids)
        for gid in ids:
            version, reports, events = mid[gid]
            if gid in batch1:  # the whole batch rolled back: nothing half-done
                assert (version, reports, events) == (before[gid][0], 0, 0)
            else:
                assert (version, reports, events) == (before[gid][0] + 1, 1, 1)
        async with db.session(system=True) as s:
            prog = await monthend.progress(s, run_id)
        assert (prog.batches_done, prog.processed, prog.status) == (2, 6, "running")

        crash_hook.clear()
        async with db.session(system=True) as s:
            assert await monthend.resume(s, run_id) == 1
        await run_pending(db, queues=[monthend.QUEUE])
        # Duplicate deliveries of every batch change nothing.
        async with db.session(system=True) as s:
            await monthend.defer_batches(s, run_id, [0, 1, 2])
        await run_pending(db, queues=[monthend.QUEUE])

        after = await _facts(db, ids)
        for gid in ids:
            assert after[gid] == (before[gid][0] + 1, 1, 1)
        async with db.session(system=True) as s:
            prog = await monthend.progress(s, run_id)
            due = await s.scalar(
                text("SELECT count(*) FROM moneylife_games WHERE id = ANY(:ids) AND month_end_due"),
                {"ids": ids},
            )
        assert (prog.batches_done, prog.processed, prog.skipped, prog.status) == (3, 9, 0, "done")
        assert due == 0

    async def test_game_moved_by_its_player_after_planning_is_skipped(self, db: Database) -> None:
        tenant = await make_tenant(db)
        user = await make_user(db, tenant, Role.member)
        gid = await make_game(db, tenant.id, user.id, days=30, seed=7)
        async with db.session(system=True) as s:
            await s.execute(
                text(
                    "UPDATE moneylife_games SET status = 'paused' WHERE month_end_due AND id <> :g"
                ),
                {"g": gid},
            )
            run_id, total = await monthend.plan(s, batch_size=10)
            await s.execute(
                text("UPDATE moneylife_games SET state_version = state_version + 1 WHERE id = :g"),
                {"g": gid},
            )
        assert total == 1
        await run_pending(db, queues=[monthend.QUEUE])
        async with db.session(system=True) as s:
            prog = await monthend.progress(s, run_id)
        assert (prog.processed, prog.skipped) == (0, 1)
