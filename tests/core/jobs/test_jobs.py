"""The job API: in-transaction defer, retries with backoff, periodic registry, run_pending."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from procrastinate.jobs import Job
from sqlalchemy import text

import ludus
from ludus.core.jobs.app import app
from ludus.core.jobs.defer import JobSpec, defer, defer_many
from ludus.core.jobs.registry import PERIODIC_JOBS, Backoff, job, periodic
from ludus.core.jobs.runner import run_pending, run_periodic
from ludus.core.jobs.worker import task_modules
from ludus.core.kit.db import Database

calls: list[str] = []
flaky_tries: dict[str, int] = {}
ticks: list[int] = []


@job("tests.jobs.record", queue="tests_jobs")
async def record(value: str) -> None:
    calls.append(value)


@job("tests.jobs.flaky", queue="tests_jobs", retry=Backoff(max_tries=4, base_seconds=60))
async def flaky(key: str) -> None:
    flaky_tries[key] = flaky_tries.get(key, 0) + 1
    if flaky_tries[key] < 4:
        raise RuntimeError("not yet")


@periodic("*/5 * * * *", name="tests.jobs.tick")
async def tick(timestamp: int) -> None:
    ticks.append(timestamp)


async def _job_rows(db: Database, marker: str) -> list[tuple[str, str]]:
    async with db.session(system=True) as s:
        rows = await s.execute(
            text(
                "SELECT status::text, queue_name FROM procrastinate_jobs"
                " WHERE args->>'value' = :m OR args->>'key' = :m"
            ),
            {"m": marker},
        )
        return [(r[0], r[1]) for r in rows]


class TestDefer:
    async def test_job_runs_after_commit_on_its_queue(self, db: Database) -> None:
        marker = uuid.uuid4().hex
        async with db.session(system=True) as s:
            await defer(s, "tests.jobs.record", args={"value": marker})
        assert await _job_rows(db, marker) == [("todo", "tests_jobs")]
        await run_pending(db, queues=["tests_jobs"])
        assert calls.count(marker) == 1
        assert await _job_rows(db, marker) == []  # successful jobs are deleted

    async def test_rolled_back_transaction_leaves_no_job(self, db: Database) -> None:
        marker = uuid.uuid4().hex
        with pytest.raises(RuntimeError):
            async with db.session(system=True) as s:
                await defer(s, "tests.jobs.record", args={"value": marker})
                raise RuntimeError("business rule failed")
        assert await _job_rows(db, marker) == []

    async def test_defer_many_and_schedule_at(self, db: Database) -> None:
        markers = [uuid.uuid4().hex for _ in range(3)]
        later = datetime.now(UTC) + timedelta(hours=1)
        async with db.session(system=True) as s:
            ids = await defer_many(
                s,
                [JobSpec("tests.jobs.record", {"value": m}) for m in markers[:2]]
                + [JobSpec("tests.jobs.record", {"value": markers[2]}, schedule_at=later)],
            )
        assert len(ids) == 3
        await run_pending(db, queues=["tests_jobs"], collapse_delays=False)
        assert [m in calls for m in markers] == [True, True, False]
        await run_pending(db, queues=["tests_jobs"])
        assert markers[2] in calls


class TestRetries:
    async def test_backoff_grows_exponentially(self) -> None:
        strategy = Backoff(max_tries=3, base_seconds=10, factor=4)
        assert [strategy.delay(n) for n in (1, 2)] == [10, 40]
        decision = strategy.get_retry_decision(
            exception=RuntimeError(),
            job=Job(id=1, queue="q", lock=None, queueing_lock=None, task_name="t", attempts=1),
        )
        assert decision is not None and decision.retry_at is not None
        waited = (decision.retry_at - datetime.now(UTC)).total_seconds()
        assert 35 < waited <= 40
        last = Job(id=1, queue="q", lock=None, queueing_lock=None, task_name="t", attempts=2)
        assert strategy.get_retry_decision(exception=RuntimeError(), job=last) is None

    async def test_retried_job_runs_until_success_without_sleeping(self, db: Database) -> None:
        key = uuid.uuid4().hex
        async with db.session(system=True) as s:
            await defer(s, "tests.jobs.flaky", args={"key": key})
        await run_pending(db, queues=["tests_jobs"])
        assert flaky_tries[key] == 4


class TestPeriodic:
    def test_registered_with_procrastinate(self) -> None:
        assert PERIODIC_JOBS["tests.jobs.tick"].cron == "*/5 * * * *"
        registered = {pid for (_, pid) in app.periodic_registry.periodic_tasks}
        assert {"tests.jobs.tick", "jobs.recover_stalled", "jobs.delete_old"} <= registered

    def test_duplicate_name_is_refused(self) -> None:
        with pytest.raises(ValueError):
            periodic("* * * * *", name="tests.jobs.tick")(tick)

    async def test_run_periodic_calls_it_and_run_pending_does_not(self, db: Database) -> None:
        before = len(ticks)
        await run_pending(db)
        assert len(ticks) == before
        await run_periodic("tests.jobs.tick", timestamp=1234)
        assert ticks[-1] == 1234


class TestDiscovery:
    def test_every_tasks_module_is_found(self) -> None:
        root = Path(ludus.__file__).parent
        on_disk = {
            "ludus." + ".".join(p.relative_to(root).with_suffix("").parts)
            for p in root.rglob("tasks.py")
        }
        assert "ludus.paya.tasks" in on_disk
        assert on_disk <= set(task_modules()), on_disk - set(task_modules())
