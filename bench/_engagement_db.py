"""Shared setup for the engagement benches: a throwaway database with the migrations applied
(DATABASE_URL names the server; unset, an embedded PostgreSQL in a temp dir)."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from ludus.core.kit.db import Database
from ludus.core.kit.embedded import to_libpq_url
from ludus.core.kit.migrate import upgrade
from ludus.core.kit.settings import Settings
from ludus.core.tenancy.models import Tenant


def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return to_libpq_url(url)
    from ludus.core.kit.embedded import embedded_uri

    return embedded_uri(Path(tempfile.mkdtemp(prefix="ludus-bench-")) / "pgdata")


def create_db(server: str, name: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server)._replace(path="/" + name))
    upgrade(url)
    return url


def drop_db(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database(url: str, pool: int) -> Database:
    return Database(url, Settings(db_pool_size=pool, db_max_overflow=8))


async def make_tenant(db: Database, config: dict[str, Any] | None = None) -> uuid.UUID:
    """A MoneyLife platform tenant for a bench run (with `config`, e.g. engagement limits)."""
    tid = uuid.uuid4()
    async with db.session(system=True) as s:
        s.add(
            Tenant(
                id=tid,
                slug=f"bench-{tid.hex[:8]}",
                name="Bench",
                kind="platform",
                status="active",
                theme={},
                features={},
                config=config or {},
                products=["moneylife"],
                default_locale="en",
                currency="USD",
                timezone="UTC",
            )
        )
    return tid


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(len(ordered) * 0.95) - 1] * 1000 if ordered else 0.0
