"""`ludus notifications`: read the message log (the sandbox provider's outbox) and run
deliveries by hand."""

from __future__ import annotations

import asyncio
import uuid

import typer
from rich.console import Console
from rich.table import Table

from ludus.core.notifications.models import Channel, MessageStatus

notifications_app = typer.Typer(no_args_is_help=True, help="Notifications.")


async def _list(
    tenant: str | None,
    channel: Channel | None,
    recipient: str | None,
    kind: str | None,
    status: MessageStatus | None,
    limit: int,
) -> list[list[str]]:
    from ludus.core.kit.db import Database
    from ludus.core.notifications import repository
    from ludus.core.tenancy.repository import get_by_slug

    db = Database()
    try:
        async with db.session(system=True) as session:
            tenant_id = None
            if tenant:
                found = await get_by_slug(session, tenant)
                if found is None:
                    raise typer.BadParameter(f"no tenant {tenant!r}", param_hint="--tenant")
                tenant_id = found.id
            rows, _ = await repository.list_messages(
                session,
                tenant_id=tenant_id,
                filters={
                    "channel": channel,
                    "recipient": recipient,
                    "kind": kind,
                    "status": status,
                },
                offset=0,
                limit=limit,
            )
            return [
                [
                    r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    str(r.channel),
                    str(r.status),
                    r.kind,
                    r.recipient,
                    (r.subject or r.body).replace("\n", " ")[:60],
                    r.provider or "",
                    str(r.id),
                ]
                for r in rows
            ]
    finally:
        await db.dispose()


@notifications_app.command("list")
def list_messages(
    tenant: str | None = typer.Option(None, help="Tenant slug."),
    channel: Channel | None = typer.Option(None),
    recipient: str | None = typer.Option(None),
    kind: str | None = typer.Option(None),
    status: MessageStatus | None = typer.Option(None),
    limit: int = typer.Option(20, min=1, max=1000),
) -> None:
    """Newest messages first: what the sandbox (or a real provider) was asked to send."""
    rows = asyncio.run(_list(tenant, channel, recipient, kind, status, limit))
    table = Table(
        "created", "channel", "status", "kind", "recipient", "subject/body", "provider", "id"
    )
    for row in rows:
        table.add_row(*row)
    Console(width=200).print(table)
    typer.echo(f"{len(rows)} message(s)")


@notifications_app.command("deliver")
def deliver_now(
    message_id: str | None = typer.Argument(None, help="One message; default: every due one."),
) -> None:
    """Try delivery now (a message id, or the sweep of all overdue queued messages)."""
    from ludus.core.kit.db import Database, set_database
    from ludus.core.notifications import delivery

    async def run() -> str:
        db = Database()
        set_database(db)
        try:
            if message_id:
                return str(await delivery.deliver(uuid.UUID(message_id), db=db))
            return f"{await delivery.deliver_due(db=db)} message(s) tried"
        finally:
            await db.dispose()
            set_database(None)

    typer.echo(asyncio.run(run()))


def register(app: typer.Typer) -> None:
    app.add_typer(notifications_app, name="notifications")
