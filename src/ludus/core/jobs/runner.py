"""Run due jobs to completion, deterministically (tests, CLI one-shots, benches).

`await run_pending(db)` repeatedly runs a worker that stops when the queues are empty;
with `collapse_delays` (default), jobs scheduled in the future (retry backoff) are made
due first, so retries happen at once instead of after real sleeps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import procrastinate
from procrastinate.app import WorkerOptions
from procrastinate.periodic import PeriodicRegistry

from ludus.core.jobs.app import open_app
from ludus.core.jobs.worker import discover_tasks
from ludus.core.kit.db import Database, get_database

_COLLAPSE = (
    "UPDATE procrastinate_jobs SET scheduled_at = now()"
    " WHERE status = 'todo' AND scheduled_at > now()"
    " AND (%(queues)s::varchar[] IS NULL OR queue_name = ANY(%(queues)s::varchar[]))"
)
_DUE = (
    "SELECT count(*) AS n FROM procrastinate_jobs WHERE status = 'todo'"
    " AND (scheduled_at IS NULL OR scheduled_at <= now())"
    " AND (%(queues)s::varchar[] IS NULL OR queue_name = ANY(%(queues)s::varchar[]))"
)


@contextlib.contextmanager
def _no_periodic(app: procrastinate.App) -> Iterator[None]:
    """Periodic jobs only run when asked for (`run_periodic`), never as a side effect."""
    saved = app.periodic_registry
    app.periodic_registry = PeriodicRegistry()
    try:
        yield
    finally:
        app.periodic_registry = saved


async def run_pending(
    db: Database | None = None,
    *,
    queues: list[str] | None = None,
    collapse_delays: bool = True,
    max_rounds: int = 50,
    concurrency: int = 1,
) -> int:
    """Run every due job (and the jobs they enqueue) until none is left; returns rounds run."""
    db = db or get_database()
    discover_tasks()
    rounds = 0
    options: WorkerOptions = {
        "concurrency": concurrency,
        "wait": False,
        "listen_notify": False,
        "install_signal_handlers": False,
        "name": "run-pending",
        "delete_jobs": "successful",
    }
    if queues:
        options["queues"] = queues
    async with open_app(db.url, max_size=concurrency + 2) as app:
        connector = app.connector
        while rounds < max_rounds:
            if collapse_delays:
                await connector.execute_query_async(_COLLAPSE, queues=queues)
            row = await connector.execute_query_one_async(_DUE, queues=queues)
            if not row["n"]:
                break
            rounds += 1
            with _no_periodic(app):
                await app.run_worker_async(**options)
    return rounds


async def run_periodic(name: str, timestamp: int = 0) -> None:
    """Call a registered periodic job's function now (tests, manual runs)."""
    from ludus.core.jobs.registry import PERIODIC_JOBS

    discover_tasks()
    await PERIODIC_JOBS[name].func(timestamp=timestamp)
