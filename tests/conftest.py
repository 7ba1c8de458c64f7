"""Test harness: a fresh PostgreSQL database per xdist worker, built from the migrations.

TEST_DATABASE_URL names a server to use; unset, an embedded PostgreSQL is started in
`.ludus/test-pgdata`. Each worker gets its own database, dropped at the end.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
_data_dir = Path(tempfile.mkdtemp(prefix="ludus-test-"))
os.environ.setdefault("LUDUS_DATA_DIR", str(_data_dir))
os.environ.setdefault("LUDUS_SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("LUDUS_LOG_JSON", "true")
os.environ.setdefault("LUDUS_LOG_LEVEL", "WARNING")
os.environ.setdefault("LUDUS_RUN_WORKER_IN_PROCESS", "false")


def _server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        from ludus.core.kit.embedded import to_libpq_url

        return to_libpq_url(url)
    from ludus.core.kit.embedded import embedded_uri

    return embedded_uri(ROOT / ".ludus" / "test-pgdata")


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def database_url(worker_id: str) -> Iterator[str]:
    server = _server_url()
    name = f"ludus_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    os.environ["DATABASE_URL"] = url
    from ludus.core.kit.settings import get_settings

    get_settings.cache_clear()
    from ludus.core.kit.migrate import upgrade

    upgrade(url)
    yield url
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[object]:
    from ludus.core.kit.db import Database, set_database

    database = Database(database_url)
    set_database(database)
    yield database
    await database.dispose()
    set_database(None)


@pytest.fixture(scope="session")
async def app(db: object) -> AsyncIterator[object]:
    from ludus.app import create_app

    yield create_app()


@pytest.fixture
async def client(app: object) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app)  # type: ignore[arg-type]
    async with AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(autouse=True)
async def _fresh_limits() -> AsyncIterator[None]:
    """Rate-limit windows and the test clock start clean for every test."""
    from ludus.core.http.ratelimit import set_rate_limiter
    from ludus.core.kit import clock

    set_rate_limiter(None)
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
async def session(db: object) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that is rolled back after the test (service-level tests)."""
    from ludus.core.kit.db import Database

    assert isinstance(db, Database)
    async with db.engine.connect() as conn:
        outer = await conn.begin()
        s = AsyncSession(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        s.info["bypass_rls"] = True
        try:
            yield s
        finally:
            await s.close()
            await outer.rollback()
