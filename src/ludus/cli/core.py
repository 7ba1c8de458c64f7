"""Core commands: serve, worker, db."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer

from ludus.core.kit import migrate

T = TypeVar("T")

db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads")) -> None:
    """Apply migrations (default: all heads)."""
    migrate.upgrade(revision=revision)
    typer.echo("database upgraded")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument("-1")) -> None:
    """Revert migrations (e.g. `-1` or `base`)."""
    migrate.downgrade(revision=revision)
    typer.echo(f"database downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the applied revision(s)."""
    migrate.current()


def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, help="Server processes (needs DATABASE_URL if > 1)."),
    migrate_first: bool = typer.Option(True, "--migrate/--no-migrate"),
) -> None:
    """Serve the API (migrating first)."""
    import uvicorn

    if migrate_first:
        migrate.upgrade()
    uvicorn.run(
        "ludus.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def worker(
    concurrency: int = typer.Option(8, min=1, help="Jobs run at the same time."),
    queue: list[str] = typer.Option(
        [], "--queue", "-q", help="Only these queues (repeatable); default all."
    ),
) -> None:
    """Run a background job worker (events, webhooks, notifications, periodic jobs)."""
    from ludus.core.jobs.worker import run_worker
    from ludus.core.kit.db import Database, set_database
    from ludus.core.kit.settings import get_settings
    from ludus.core.observability.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)

    async def main() -> None:
        db = Database()
        set_database(db)
        try:
            await run_worker(db, concurrency=concurrency, queues=queue or None)
        finally:
            await db.dispose()

    run_loop(main())


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop, as `serve` does (uvicorn picks it), falling back to asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("serve")(serve)
    app.command("worker")(worker)
