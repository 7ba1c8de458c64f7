"""`ludus user create-admin` and `ludus keys rotate`."""

from __future__ import annotations

import asyncio

import typer

user_app = typer.Typer(no_args_is_help=True, help="User accounts.")
keys_app = typer.Typer(no_args_is_help=True, help="Token signing keys.")


async def _create_admin(email: str, password: str, tenant_slug: str | None) -> str:
    from ludus.core.auth.credentials import create_admin
    from ludus.core.kit.db import Database
    from ludus.core.tenancy.service import get_by_slug_or_404

    db = Database()  # its own engine, disposed here
    try:
        async with db.session(system=True) as session:
            tenant = await get_by_slug_or_404(session, tenant_slug) if tenant_slug else None
            user = await create_admin(session, email=email, password=password, tenant=tenant)
            return str(user.id)
    finally:
        await db.dispose()


async def _rotate() -> str:
    from ludus.core.audit import service as audit
    from ludus.core.auth.tokens import create_signing_key
    from ludus.core.kit.db import Database

    db = Database()  # its own engine, disposed here
    try:
        async with db.session(system=True) as session:
            kid = await create_signing_key(session)
            await audit.record(
                session,
                action="auth.signing_key_rotated",
                tenant_id=None,
                actor="cli",
                target_type="signing_key",
                target_id=kid,
            )
            return kid
    finally:
        await db.dispose()


@user_app.command("create-admin")
def create_admin_command(
    email: str = typer.Option(..., "--email", help="Sign-in email."),
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, help="At least 10 characters."
    ),
    tenant: str | None = typer.Option(
        None, "--tenant", help="Tenant slug: make a tenant admin (default: a system admin)."
    ),
) -> None:
    """Create (or reset) an admin account."""
    from ludus.core.kit import migrate
    from ludus.core.kit.errors import LudusError

    migrate.upgrade()
    try:
        user_id = asyncio.run(_create_admin(email, password, tenant))
    except LudusError as exc:
        typer.echo(
            f"error: {exc.code}: {exc.detail_message} {exc.details or ''}".rstrip(), err=True
        )
        raise typer.Exit(1) from exc
    role = f"tenant admin of {tenant}" if tenant else "system admin"
    typer.echo(f"{role}: {email} ({user_id})")


@keys_app.command("rotate")
def rotate_command() -> None:
    """Add a new signing key; tokens signed by older keys verify until they expire."""
    from ludus.core.kit import migrate

    migrate.upgrade()
    kid = asyncio.run(_rotate())
    typer.echo(f"new signing key: {kid}")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(keys_app, name="keys")
