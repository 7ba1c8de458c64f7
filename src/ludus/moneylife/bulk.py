"""Set-based writes: many rows in one statement through `jsonb_to_recordset`.

Compiling a multi-row VALUES statement costs more than the database work, executemany sends
one statement per row, and array parameters quote every text element with a regex. One
`INSERT … SELECT FROM jsonb_to_recordset(:rows)` (or `UPDATE … FROM …`) per table, with
all rows as one JSON document, keeps each table to one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

_TYPES = (
    (BigInteger, "bigint"),
    (Integer, "integer"),
    (Boolean, "boolean"),
    (DateTime, "timestamptz"),
    (Date, "date"),
    (Uuid, "uuid"),
    (JSONB, "jsonb"),
    (Numeric, "numeric"),
    (Text, "text"),
    (String, "text"),
)


def _sql_type(table: Table, column: str) -> str:
    col_type = table.c[column].type
    if isinstance(col_type, ARRAY):
        raise TypeError(f"{table.name}.{column}: array columns are not supported in bulk writes")
    for kind, name in _TYPES:
        if isinstance(col_type, kind):
            return name
    raise TypeError(f"{table.name}.{column}: unsupported type {col_type!r}")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} in a bulk statement")


def _payload(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """All rows as one JSON document (PostgreSQL parses it in C)."""
    return {"rows": orjson.dumps(list(rows), default=_default).decode()}


def _source(table: Table, cols: list[str]) -> str:
    spec = ", ".join(f"{c} {_sql_type(table, c)}" for c in cols)
    return f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS v({spec})"


async def insert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str] | None = None,
    update: bool = True,
) -> None:
    """Insert `rows` (all with the same keys); on a `conflict` key, update or skip."""
    if not rows:
        return
    cols = list(rows[0])
    sql = (
        f"INSERT INTO {table.name} ({', '.join(cols)}) "
        f"SELECT {', '.join(f'v.{c}' for c in cols)} FROM {_source(table, cols)}"
    )
    if conflict:
        rest = [c for c in cols if c not in conflict]
        action = (
            "DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in rest)
            if update and rest
            else "DO NOTHING"
        )
        sql += f" ON CONFLICT ({', '.join(conflict)}) {action}"
    await session.execute(text(sql), _payload(rows))


async def update_rows(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], key: str = "id"
) -> None:
    """UPDATE each row identified by `key` with its other values, in one statement."""
    if not rows:
        return
    cols = list(rows[0])
    sets = ", ".join(f"{c} = v.{c}" for c in cols if c != key)
    sql = f"UPDATE {table.name} AS t SET {sets} FROM {_source(table, cols)} WHERE t.{key} = v.{key}"
    await session.execute(text(sql), _payload(rows))
