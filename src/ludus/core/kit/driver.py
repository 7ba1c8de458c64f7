"""Driver-level SQL on the session's own connection and transaction, for hot paths.

Building and running a statement through SQLAlchemy costs ~0.5 ms of CPU more than the
driver needs; the MoneyLife game lock and write and the ledger's transfer call use these
instead. Statements are plain SQL text with psycopg parameters (`%(name)s` or `%s`), run on
the session's connection after SQLAlchemy began its transaction (so the tenant context and
RLS apply). Errors are re-raised as SQLAlchemy's, which the HTTP layer maps to stable codes.

`read_scoped` is for hot reads that need no transaction of their own: the tenant context
and the query travel as one simple query, which PostgreSQL runs as one implicit
transaction (so the context's `set_config(..., true)` holds for the query and ends with
it). One round trip instead of BEGIN, the query and COMMIT.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit.db import context_sql, get_database, take_pending_begin


async def _connection(session: AsyncSession) -> tuple[psycopg.AsyncConnection[Any], bytes | None]:
    """The session's driver connection, and the BEGIN and context its transaction has not
    sent yet (the caller sends them in the same round trip as its statement)."""
    conn = await session.connection()
    sync = conn.sync_connection
    if sync is None or sync.invalidated:
        raw = await conn.get_raw_connection()  # may reconnect: needs the greenlet bridge
        sync = conn.sync_connection
        driver = raw.driver_connection
    else:
        # The usual case: the connection is live, so no greenlet hop just to read it.
        driver = sync.connection.driver_connection
    pending = take_pending_begin(sync) if sync is not None else None
    return driver, pending  # type: ignore[return-value]


async def _run(
    conn: psycopg.AsyncConnection[Any], pending: bytes | None, sql: str, params: Params, rows: bool
) -> list[Any]:
    if pending is None:
        async with conn.cursor(row_factory=namedtuple_row) as cur:
            await cur.execute(sql, params)
            return await cur.fetchall() if rows else []
    # BEGIN, the context and the statement as one simple query (parameters bound as
    # literals); the statement's rows are the last result.
    async with psycopg.AsyncClientCursor(conn, row_factory=namedtuple_row) as cur:
        await cur.execute(pending + b"; " + cur.mogrify(sql, params).encode(), prepare=False)
        while cur.nextset():
            pass
        return await cur.fetchall() if rows else []


Params = Mapping[str, Any] | Sequence[Any]


def _wrapped(sql: str, params: Params, err: psycopg.Error) -> Exception:
    return DBAPIError.instance(sql, params, err, psycopg.Error, hide_parameters=True)


async def fetch(session: AsyncSession, sql: str, params: Params) -> list[Any]:
    """All rows as named tuples (attribute access, like SQLAlchemy rows)."""
    conn, pending = await _connection(session)
    try:
        return await _run(conn, pending, sql, params, rows=True)
    except psycopg.Error as err:
        raise _wrapped(sql, params, err) from err


async def execute(session: AsyncSession, sql: str, params: Params) -> None:
    conn, pending = await _connection(session)
    try:
        await _run(conn, pending, sql, params, rows=False)
    except psycopg.Error as err:
        raise _wrapped(sql, params, err) from err


# Outside any request transaction, a write here would commit on its own: refuse writes.
_READ_ONLY = b"; SELECT set_config('transaction_read_only', 'on', true)"


async def read_scoped(
    tenant_id: uuid.UUID | None, sql: str, params: Params, *, system: bool = False
) -> list[Any]:
    """Rows of one query in the tenant's RLS scope (or the system scope), sent with its
    context in a single round trip on a pooled connection of its own; the transaction is
    read-only, so a write is refused.

    Parameters are bound client-side by psycopg's literal quoting (a simple query takes
    no parameters). It sees committed data only, not the request session's own writes.
    """
    context = context_sql(str(tenant_id) if tenant_id else "", bypass=system) + _READ_ONLY
    pool = await get_database().read_pool()
    async with pool.connection() as conn:
        try:
            cur = psycopg.AsyncClientCursor(conn, row_factory=namedtuple_row)
            async with cur:
                query = context + b"; " + cur.mogrify(sql, params).encode()
                await cur.execute(query, prepare=False)
                cur.nextset()
                cur.nextset()
                return await cur.fetchall()
        except psycopg.Error as err:
            raise _wrapped(sql, params, err) from err
