"""`ludus tenant create|list|suspend|activate`."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.cli.runner import run_in_session
from ludus.core.kit.errors import LudusError
from ludus.core.tenancy import repository, service
from ludus.core.tenancy.models import Product, TenantKind, TenantStatus
from ludus.core.tenancy.schemas import TenantCreate

tenant_app = typer.Typer(no_args_is_help=True, help="Manage tenants.")
console = Console()


@tenant_app.command("create")
def create(
    slug: str,
    name: str = typer.Option(..., help="Display name."),
    kind: TenantKind = typer.Option(TenantKind.bank_partner),
    product: list[Product] = typer.Option([], help="Enabled product (repeatable)."),
    currency: str = typer.Option("USD"),
    timezone: str = typer.Option("UTC"),
    locale: str = typer.Option("en"),
) -> None:
    """Create a tenant."""
    try:
        data = TenantCreate(
            slug=slug,
            name=name,
            kind=kind,
            products=product,
            currency=currency,
            timezone=timezone,
            default_locale=locale,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def work(session: AsyncSession) -> str:
        tenant = await service.create_tenant(session, data, actor_user_id=None, actor="cli")
        return str(tenant.id)

    try:
        tenant_id = run_in_session(work)
    except LudusError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail_message}")
        raise typer.Exit(1) from exc
    console.print(f"created tenant [bold]{slug}[/bold] ({tenant_id})")


@tenant_app.command("list")
def list_() -> None:
    """List tenants."""

    async def work(session: AsyncSession) -> list[tuple[str, ...]]:
        rows, _ = await repository.list_tenants(session, limit=1000)
        return [
            (t.slug, t.name, str(t.kind), str(t.status), ",".join(t.products), str(t.id))
            for t in rows
        ]

    table = Table("slug", "name", "kind", "status", "products", "id")
    for row in run_in_session(work):
        table.add_row(*row)
    console.print(table)


def _set_status(slug: str, status: TenantStatus) -> None:
    async def work(session: AsyncSession) -> None:
        tenant = await service.get_by_slug_or_404(session, slug)
        await service.set_status(session, tenant, status, actor_user_id=None, actor="cli")

    try:
        run_in_session(work)
    except LudusError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.detail_message}")
        raise typer.Exit(1) from exc
    console.print(f"tenant [bold]{slug}[/bold] is now {status.value}")


@tenant_app.command("suspend")
def suspend(slug: str) -> None:
    """Suspend a tenant: its users get 403 TENANT_SUSPENDED."""
    _set_status(slug, TenantStatus.suspended)


@tenant_app.command("activate")
def activate(slug: str) -> None:
    """Re-activate a suspended tenant."""
    _set_status(slug, TenantStatus.active)


def register(app: typer.Typer) -> None:
    app.add_typer(tenant_app, name="tenant")


demo_app = typer.Typer(no_args_is_help=True, help="Demo data.")


@demo_app.command("seed")
def demo_seed() -> None:
    """Create the demo tenants and users (safe to run again)."""
    from ludus.demo import seed

    for line in run_in_session(seed):
        console.print(line)
    console.print("demo ready — credentials are in the README")


def register_demo(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")
