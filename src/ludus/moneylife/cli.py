"""`ludus moneylife ...`: month-end for every due game, with a progress bar."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(no_args_is_help=True, help="MoneyLife game service.")


def _spawn_workers(count: int) -> list[subprocess.Popen[bytes]]:
    """Worker processes for the month-end queue (one core each)."""
    code = "from ludus.cli.main import app; app()"
    args = [sys.executable, "-c", code, "worker", "--concurrency", "1", "--queue", "moneylife"]
    return [subprocess.Popen(args) for _ in range(count)]  # noqa: S603 - our own interpreter


async def _plan(batch_size: int, resume: str | None) -> tuple[uuid.UUID, int]:
    from ludus.core.kit.db import Database
    from ludus.moneylife import monthend

    db = Database()
    try:
        async with db.session(system=True) as s:
            if resume:
                run_id = uuid.UUID(resume)
                await monthend.resume(s, run_id)
                prog = await monthend.progress(s, run_id)
                return run_id, prog.total_games
            return await monthend.plan(s, batch_size=batch_size)
    finally:
        await db.dispose()


async def _progress(run_id: uuid.UUID) -> tuple[int, int, int, str]:
    from ludus.core.kit.db import Database
    from ludus.moneylife import monthend

    db = Database()
    try:
        async with db.session(system=True) as s:
            p = await monthend.progress(s, run_id)
            return p.processed + p.skipped, p.batches_done, p.batches, p.status
    finally:
        await db.dispose()


@app.command("month-end")
def month_end(
    all_games: bool = typer.Option(False, "--all", help="Every game due for month-end."),
    batch_size: int = typer.Option(500, min=1, max=5000, help="Games per job."),
    workers: int = typer.Option(
        2,
        min=0,
        max=64,
        help="Worker processes to start (0: use already running `ludus worker -q moneylife`).",
    ),
    resume: str | None = typer.Option(None, help="Re-queue the unfinished batches of a run."),
) -> None:
    """Run month-end as Procrastinate jobs in batches; resumable after a crash."""
    if not all_games and not resume:
        raise typer.BadParameter("pass --all (or --resume RUN_ID)")
    run_id, total = asyncio.run(_plan(batch_size, resume))
    typer.echo(f"run {run_id}: {total} games")
    procs = _spawn_workers(workers) if total else []
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("month-end"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[batches]}"),
            TimeElapsedColumn(),
        ) as bar:
            task = bar.add_task("games", total=total, batches="")
            status = "running" if total else "done"
            while status != "done":
                done, b_done, b_total, status = asyncio.run(_progress(run_id))
                bar.update(task, completed=done, batches=f"batches {b_done}/{b_total}")
                if procs and all(p.poll() is not None for p in procs):
                    raise typer.Exit(code=1)
                time.sleep(0.5)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    elapsed = time.perf_counter() - started
    rate = total / elapsed if elapsed else 0.0
    typer.echo(f"done: {total} games in {elapsed:.1f} s ({rate:.0f} games/s)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="moneylife")
