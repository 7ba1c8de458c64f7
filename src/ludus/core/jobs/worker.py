"""Workers: discovery of task modules, the `ludus worker` loop and the in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import pkgutil

import structlog
from procrastinate.app import WorkerOptions

from ludus.core.jobs.app import open_app
from ludus.core.kit.db import Database

log = structlog.get_logger("ludus.jobs")
_discovered = False


def discover_tasks() -> None:
    """Import every `ludus.**.tasks` module so handlers, jobs and periodic jobs register."""
    global _discovered
    if _discovered:
        return
    for name in task_modules():
        importlib.import_module(name)
    _discovered = True


def task_modules() -> list[str]:
    """Names of every `ludus.**.tasks` module (packages need an `__init__.py` to be walked)."""
    import ludus

    infos = pkgutil.walk_packages(ludus.__path__, "ludus.")
    return [info.name for info in infos if info.name.rsplit(".", 1)[-1] == "tasks"]


async def run_worker(
    db: Database,
    *,
    concurrency: int = 8,
    queues: list[str] | None = None,
    install_signal_handlers: bool = True,
    name: str = "ludus-worker",
) -> None:
    """Process jobs until stopped (a signal, or cancellation of the calling task)."""
    discover_tasks()
    async with open_app(db.url, max_size=concurrency + 2) as app:
        options: WorkerOptions = {
            "concurrency": concurrency,
            "install_signal_handlers": install_signal_handlers,
            "name": name,
            "delete_jobs": "successful",
            # on stop, running jobs get this long; the rest are aborted and retried later
            "shutdown_graceful_timeout": 15.0,
        }
        if queues:
            options["queues"] = queues
        await app.run_worker_async(**options)


class InProcessWorker:
    """A worker task inside the API process (started and stopped by the app lifespan)."""

    def __init__(self, db: Database, *, concurrency: int = 4) -> None:
        self.db = db
        self.concurrency = concurrency
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(
            run_worker(
                self.db,
                concurrency=self.concurrency,
                install_signal_handlers=False,
                name="ludus-in-process",
            ),
            name="ludus-in-process-worker",
        )
        self._task.add_done_callback(_log_exit)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _log_exit(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("in_process_worker_failed", error=repr(task.exception()))
