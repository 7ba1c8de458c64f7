"""`ludus events dead-letters` and `ludus events replay ID`."""

from __future__ import annotations

import asyncio
import uuid

import typer

from ludus.core.events import deadletters
from ludus.core.events.models import DeadLetterStatus
from ludus.core.kit.db import Database, set_database
from ludus.core.kit.errors import LudusError

events_app = typer.Typer(no_args_is_help=True, help="Events: dead letters and replay.")


@events_app.command("dead-letters")
def dead_letters_command(
    status: str = typer.Option("dead", help="dead, replaying, resolved or all"),
    handler: str | None = typer.Option(None, help="Only this handler."),
    limit: int = typer.Option(50, min=1, max=1000),
) -> None:
    """List dead letters, newest first."""
    if status != "all" and status not in DeadLetterStatus.__members__:
        raise typer.BadParameter("use dead, replaying, resolved or all", param_hint="--status")

    async def main() -> None:
        db = Database()
        try:
            async with db.session(system=True) as session:
                rows, total = await deadletters.list_dead_letters(
                    session,
                    status=None if status == "all" else DeadLetterStatus(status),
                    handler=handler,
                    limit=limit,
                )
            typer.echo(f"{total} dead letter(s)")
            for r in rows:
                typer.echo(
                    f"{r.id}  {r.status:<9} {r.handler}  {r.event_type}  event={r.event_id}"
                    f"  tries={r.attempts}  {r.dead_at:%Y-%m-%d %H:%M:%S}  {r.last_error[:80]}"
                )
        finally:
            await db.dispose()

    asyncio.run(main())


@events_app.command("replay")
def replay_command(dead_letter_id: uuid.UUID) -> None:
    """Queue a dead letter's handler again (a worker runs it)."""

    async def main() -> None:
        db = Database()
        set_database(db)
        try:
            async with db.session(system=True) as session:
                row = await deadletters.replay(session, dead_letter_id)
            typer.echo(f"replaying {row.handler} for event {row.event_id}")
        except LudusError as exc:
            typer.echo(f"{exc.code}: {exc.detail_message}", err=True)
            raise typer.Exit(1) from exc
        finally:
            await db.dispose()

    asyncio.run(main())


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
