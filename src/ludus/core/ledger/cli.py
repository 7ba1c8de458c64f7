"""`ludus ledger ...` commands."""

from __future__ import annotations

import asyncio
import uuid

import typer
from rich.console import Console

ledger_app = typer.Typer(no_args_is_help=True, help="Double-entry ledger.")


async def _verify(tenant_id: uuid.UUID | None) -> bool:
    from ludus.core.kit.db import Database
    from ludus.core.ledger.verify import verify

    db = Database()
    try:
        async with db.session(system=True) as session:
            report = await verify(session, tenant_id=tenant_id)
    finally:
        await db.dispose()
    Console().print(report.render())
    return report.ok


@ledger_app.command("verify")
def verify_command(
    tenant: str | None = typer.Option(None, help="Only this tenant's ledger (id)."),
) -> None:
    """Check every ledger invariant; exit code 1 on any discrepancy."""
    tenant_id = uuid.UUID(tenant) if tenant else None
    if not asyncio.run(_verify(tenant_id)):
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")
