"""Engine, sessions and the per-transaction tenant context that drives row-level security.

Every transaction a session begins switches to the non-superuser app role and sets
`ludus.tenant_id` (or `ludus.bypass`) from `session.info`, so PostgreSQL RLS policies
apply even when the connection user is a superuser (as with embedded PostgreSQL).

Driver connections run in autocommit mode and we begin transactions ourselves: a session's
BEGIN and its tenant context wait, as one simple query, for the transaction's first
statement. Driver SQL sends them in that statement's round trip (`driver.py`); a SQLAlchemy
statement sends them just before itself. The waiting text belongs to its transaction only
and is dropped at commit, rollback and checkin. Transactions begun outside a session
(`engine.connect()`, the test harness) get a plain BEGIN before their first statement.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import pq
from psycopg import sql as pgsql
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.util import await_

from ludus.core.kit.embedded import embedded_uri, to_libpq_url, to_sqlalchemy_url
from ludus.core.kit.settings import Settings, get_settings

TENANT_KEY = "ludus.tenant_id"
BYPASS_KEY = "ludus.bypass"

_SET_CONTEXT = pgsql.SQL(
    "SELECT set_config('role', {}, true) AS role, set_config('ludus.tenant_id', {}, true)"
    " AS tenant, set_config('ludus.bypass', {}, true) AS bypass"
)
_IDLE = pq.TransactionStatus.IDLE
PENDING_KEY = "ludus_pending_begin"


@lru_cache(maxsize=4096)
def _context_sql(role: str, tenant: str, bypass: str, begin: bool) -> bytes:
    """The context statement with its values quoted as literals (a simple query has no
    parameters), optionally preceded by BEGIN. Cached: a process serves few scopes."""
    values = (pgsql.Literal(role), pgsql.Literal(tenant), pgsql.Literal(bypass))
    statement = _SET_CONTEXT.format(*values)
    text = statement.as_bytes(None)
    return b"BEGIN; " + text if begin else text


def database_url(settings: Settings | None = None) -> str:
    """libpq URI of the configured database, starting the embedded server if needed."""
    settings = settings or get_settings()
    if settings.database_url:
        return to_libpq_url(settings.database_url)
    return embedded_uri(settings.pgdata_dir)


def make_engine(url: str | None = None, settings: Settings | None = None) -> AsyncEngine:
    settings = settings or get_settings()
    engine = create_async_engine(
        to_sqlalchemy_url(url or database_url(settings)),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"autocommit": True},
    )
    event.listen(engine.sync_engine, "before_cursor_execute", _begin_on_server)
    for name in ("commit", "rollback"):
        event.listen(engine.sync_engine, name, _drop_pending)
    event.listen(engine.sync_engine.pool, "checkin", _drop_pending_on_checkin)
    return engine


def take_pending_begin(conn: Connection) -> bytes | None:
    """The BEGIN and context a session's transaction has not sent yet (then it is the
    caller's to send, ahead of its first statement), or None."""
    pending = conn.info.pop(PENDING_KEY, None)
    if pending is None or pending[0] is not conn.get_transaction():
        return None  # another transaction's: never applied to this one
    statement: bytes = pending[1]
    return statement


def _drop_pending(conn: Connection) -> None:
    conn.info.pop(PENDING_KEY, None)


def _drop_pending_on_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info.pop(PENDING_KEY, None)


def _begin_on_server(
    conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
) -> None:
    """SQLAlchemy began a transaction the server has not seen yet: begin it there first
    (with the session's context, if a session began it)."""
    if not conn.in_transaction():
        return
    driver = conn.connection.driver_connection
    if isinstance(driver, psycopg.AsyncConnection) and driver.pgconn.transaction_status == _IDLE:
        await_(driver.execute(take_pending_begin(conn) or b"BEGIN", prepare=False))


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


def context_sql(tenant: str, *, bypass: bool = False, role: str | None = None) -> bytes:
    """The statement that scopes the current transaction: app role, tenant, RLS bypass."""
    role = role or get_settings().db_app_role
    return _context_sql(role, tenant, "on" if bypass else "off", False)


def _apply_context(session: Session, connection: Connection) -> None:
    info = session.info
    role = info.get("db_role") or get_settings().db_app_role
    tenant = str(info["tenant_id"]) if info.get("tenant_id") else ""
    bypass = "on" if info.get("bypass_rls") else "off"
    driver = connection.connection.driver_connection
    if isinstance(driver, psycopg.AsyncConnection):
        if driver.pgconn.transaction_status == _IDLE:
            # Nothing sent yet: BEGIN and the context go ahead of the transaction's first
            # statement, in its round trip (driver SQL) or just before it (SQLAlchemy's).
            pending = _context_sql(role, tenant, bypass, True)
            connection.info[PENDING_KEY] = (connection.get_transaction(), pending)
            return
        # Re-scoping a transaction under way: straight to the driver, no SQL compilation.
        await_(driver.execute(_context_sql(role, tenant, bypass, False), prepare=False))
    else:
        connection.exec_driver_sql(_context_sql(role, tenant, bypass, False).decode())


@event.listens_for(Session, "after_begin")
def _after_begin(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    # A SAVEPOINT inherits the transaction's settings; only a real BEGIN needs them.
    if transaction.nested:
        return
    _apply_context(session, connection)


async def set_tenant(session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
    """Scope the session (this transaction and later ones) to one tenant."""
    await _scope(session, tenant_id, bypass=False)


async def set_system_scope(session: AsyncSession) -> None:
    """Let this session see every tenant's rows (system admins, cross-tenant jobs)."""
    await _scope(session, None, bypass=True)


async def _scope(session: AsyncSession, tenant_id: uuid.UUID | None, *, bypass: bool) -> None:
    info = session.info
    unchanged = (
        "tenant_id" in info
        and info["tenant_id"] == tenant_id
        and bool(info.get("bypass_rls")) == bypass
    )
    info["tenant_id"] = tenant_id
    info["bypass_rls"] = bypass
    if not unchanged:
        await _refresh_context(session)


async def _refresh_context(session: AsyncSession) -> None:
    if session.in_transaction():
        conn = await session.connection()
        await conn.run_sync(lambda c: _apply_context(session.sync_session, c))


class Database:
    """Owns the engine and session factory for one process."""

    def __init__(self, url: str | None = None, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.url = url or database_url(self.settings)
        self.engine = make_engine(self.url, self.settings)
        self.sessionmaker = make_sessionmaker(self.engine)
        self._reads: AsyncConnectionPool | None = None
        self._reads_lock = asyncio.Lock()

    async def read_pool(self) -> AsyncConnectionPool:
        """Autocommit connections for one-round-trip reads (`driver.read_scoped`), kept
        apart from the engine's: a checkout here costs a fraction of SQLAlchemy's."""
        if self._reads is None:
            async with self._reads_lock:
                if self._reads is None:
                    pool = AsyncConnectionPool(
                        self.url,
                        min_size=1,
                        max_size=self.settings.db_read_pool_size,
                        kwargs={"autocommit": True},
                        open=False,
                    )
                    await pool.open()
                    self._reads = pool
        return self._reads

    @asynccontextmanager
    async def session(
        self, *, tenant_id: uuid.UUID | None = None, system: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits on success, rolls back on error (jobs, CLI, tests)."""
        async with self.sessionmaker() as session:
            session.info["tenant_id"] = tenant_id
            session.info["bypass_rls"] = system
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        if self._reads is not None:
            await self._reads.close()
            self._reads = None
        await self.engine.dispose()


_db: Database | None = None


def get_database() -> Database:
    global _db
    if _db is None:
        _db = Database()
    return _db


def set_database(db: Database | None) -> None:
    global _db
    _db = db
