"""The one Procrastinate app of the process.

Tasks register on it at import time; the connector is bound when a worker or runner opens
it (`open_app`), because the database URL is only known at run time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import procrastinate

app = procrastinate.App(connector=procrastinate.PsycopgConnector())


def make_connector(url: str, *, max_size: int = 4) -> procrastinate.PsycopgConnector:
    return procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=max_size)


@asynccontextmanager
async def open_app(url: str, *, max_size: int = 4) -> AsyncIterator[procrastinate.App]:
    """Bind the app to `url` with its own connection pool for the duration of the block."""
    connector = make_connector(url, max_size=max_size)
    with app.replace_connector(connector):
        async with app.open_async():
            yield app
