"""Driver-level SQL on the session's own connection and transaction, for hot paths.

Building and running a statement through SQLAlchemy costs ~0.5 ms of CPU more than the
driver needs; the MoneyLife game lock and write and the ledger's transfer call use these
instead. Statements are plain SQL text with psycopg parameters (`%(name)s` or `%s`), run on
the session's connection after SQLAlchemy began its transaction (so the tenant context and
RLS apply). Errors are re-raised as SQLAlchemy's, which the HTTP layer maps to stable codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession


async def _connection(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
    return driver


Params = Mapping[str, Any] | Sequence[Any]


async def fetch(session: AsyncSession, sql: str, params: Params) -> list[Any]:
    """All rows as named tuples (attribute access, like SQLAlchemy rows)."""
    conn = await _connection(session)
    try:
        async with conn.cursor(row_factory=namedtuple_row) as cur:
            await cur.execute(sql, params)
            return await cur.fetchall()
    except psycopg.Error as err:
        raise DBAPIError.instance(sql, params, err, psycopg.Error, hide_parameters=True) from err


async def execute(session: AsyncSession, sql: str, params: Params) -> None:
    conn = await _connection(session)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql, params)
    except psycopg.Error as err:
        raise DBAPIError.instance(sql, params, err, psycopg.Error, hide_parameters=True) from err
