"""`ludus` command line. Each module adds its sub-app in `register()` below, one line each."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Ludus platform commands.")


def register() -> None:
    from ludus.cli import core as core_cli

    core_cli.register(app)
    from ludus.cli import tenants

    tenants.register(app)
    tenants.register_demo(app)
    from ludus.core.events import cli as events_cli

    events_cli.register(app)
    __import__("ludus.core.auth.cli", fromlist=["register"]).register(app)
    __import__("ludus.core.ledger.cli", fromlist=["register"]).register(app)
    __import__("ludus.core.notifications.cli", fromlist=["register"]).register(app)
    __import__("ludus.moneylife.cli", fromlist=["register"]).register(app)


register()
