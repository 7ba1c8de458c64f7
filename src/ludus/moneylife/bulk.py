"""Set-based writes: many rows, many tables, one statement (`jsonb_to_recordset`).

Compiling a multi-row VALUES statement costs more than the database work, executemany sends
one statement per row, and array parameters quote every text element with a regex. One
`INSERT … SELECT FROM jsonb_to_recordset(:rows)` (or `UPDATE … FROM …`) per table, with
all rows as one JSON document, and all of them as CTEs of one statement: one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
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
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.jobs.app import app
from ludus.core.jobs.defer import JobSpec
from ludus.core.jobs.registry import DEFAULT_QUEUE
from ludus.core.kit import driver

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
        for kind, name in _TYPES:
            if isinstance(col_type.item_type, kind):
                return name + "[]"
    for kind, name in _TYPES:
        if isinstance(col_type, kind):
            return name
    raise TypeError(f"{table.name}.{column}: unsupported type {col_type!r}")


@lru_cache(maxsize=512)
def _spec(table: Table, cols: tuple[str, ...]) -> str:
    """The record type of `jsonb_to_recordset` for these columns (cached: same shapes recur)."""
    return ", ".join(f'"{c}" {_sql_type(table, c)}' for c in cols)


def _q(name: str) -> str:
    return f'"{name}"'


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} in a bulk statement")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


# Procrastinate's own bulk defer function (what `core.jobs.defer.defer_many` calls), fed
# from one JSON document instead of six array parameters.
_DEFER = (
    "SELECT procrastinate_defer_jobs_v1(ARRAY("
    " SELECT ROW(j.queue, j.task, j.priority, j.lock, NULL, j.args, NULL)"
    "::procrastinate_job_to_defer_v1"
    " FROM jsonb_to_recordset(CAST(%({name})s AS jsonb))"
    " AS j(queue varchar, task varchar, priority integer, lock text, args jsonb)))"
)


def _queue_of(spec: JobSpec) -> str:
    if spec.queue:
        return spec.queue
    task = app.tasks.get(spec.task)
    return task.queue if task is not None else DEFAULT_QUEUE


class Batch:
    """Writes collected as data-modifying CTEs and sent as ONE statement by `flush`.

    PostgreSQL runs every data-modifying WITH clause exactly once, whether or not the main
    query reads it. Clauses must not touch the same row twice (callers dedupe per table).
    Jobs (`defer`) are inserted by the main query, so they too cost no extra round trip.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: dict[str, Any] = {}
        self.jobs: list[dict[str, Any]] = []

    def _source(
        self,
        table: Table,
        rows: Sequence[dict[str, Any]],
        cols: list[str],
        texts: Sequence[str] = (),
    ) -> str:
        name = f"rows{len(self.params)}"
        if not texts:
            self.params[name] = _json(list(rows))
            return (
                f"jsonb_to_recordset(CAST(%({name})s AS jsonb)) AS v({_spec(table, tuple(cols))})"
            )
        # Large text values go as binary text[] parameters zipped with the JSON rows by
        # position (ROWS FROM): no JSON escaping on either side.
        rest = [c for c in cols if c not in texts]
        self.params[name] = _json([{c: row[c] for c in rest} for row in rows])
        sources = [
            f"jsonb_to_recordset(CAST(%({name})s AS jsonb)) AS ({_spec(table, tuple(rest))})"
        ]
        for i, col in enumerate(texts):
            self.params[f"{name}_{i}"] = [row[col] for row in rows]
            sources.append(f"unnest(CAST(%({name}_{i})b AS text[]))")
        names = ", ".join(_q(c) for c in [*rest, *texts])
        return f"ROWS FROM ({', '.join(sources)}) AS v({names})"

    def defer(self, specs: Sequence[JobSpec]) -> None:
        """Enqueue jobs in the same statement (scheduled jobs: use `defer_many`)."""
        for spec in specs:
            if spec.schedule_at is not None:
                raise ValueError("Batch.defer takes jobs to run now")
            self.jobs.append(
                {
                    "queue": _queue_of(spec),
                    "task": spec.task,
                    "priority": spec.priority,
                    "lock": spec.lock,
                    "args": spec.args,
                }
            )

    def insert(
        self,
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
            f"INSERT INTO {table.name} ({', '.join(_q(c) for c in cols)}) "
            f"SELECT {', '.join(f'v.{_q(c)}' for c in cols)} FROM {self._source(table, rows, cols)}"
        )
        if conflict:
            rest = [c for c in cols if c not in conflict]
            action = (
                "DO UPDATE SET " + ", ".join(f"{_q(c)} = EXCLUDED.{_q(c)}" for c in rest)
                if update and rest
                else "DO NOTHING"
            )
            sql += f" ON CONFLICT ({', '.join(_q(c) for c in conflict)}) {action}"
        self.parts.append(sql)

    def update(
        self,
        table: Table,
        rows: Sequence[dict[str, Any]],
        key: str = "id",
        *,
        texts: Sequence[str] = (),
    ) -> None:
        """UPDATE each row identified by `key` with its other values; `texts` are text
        columns with large values (sent as binary arrays rather than inside the JSON)."""
        if not rows:
            return
        cols = list(rows[0])
        sets = ", ".join(f"{_q(c)} = v.{_q(c)}" for c in cols if c != key)
        source = self._source(table, rows, cols, texts)
        self.parts.append(
            f"UPDATE {table.name} AS t SET {sets} FROM {source}"
            f" WHERE t.{_q(key)} = v.{_q(key)} AND {self._keys(table, key, rows)}"
        )

    def delete(self, table: Table, keys: Sequence[dict[str, Any]]) -> None:
        """DELETE the rows whose columns equal each of `keys`."""
        if not keys:
            return
        cols = list(keys[0])
        match = " AND ".join(f"t.{_q(c)} = v.{_q(c)}" for c in cols)
        source = self._source(table, keys, cols)
        self.parts.append(
            f"DELETE FROM {table.name} AS t USING {source}"
            f" WHERE {match} AND {self._keys(table, cols[0], keys)}"
        )

    def _keys(self, table: Table, column: str, rows: Sequence[dict[str, Any]]) -> str:
        """`t.column = ANY(array)`: the planner's guess for a set-returning function is 100
        rows, for which it would hash-join against a scan of the whole table; the key array
        makes it look the target rows up through the index."""
        name = f"keys{len(self.params)}"
        self.params[name] = list({row[column] for row in rows})
        return f"t.{_q(column)} = ANY(CAST(%({name})b AS {_sql_type(table, column)}[]))"

    async def flush(self, session: AsyncSession) -> None:
        main = "SELECT 1"
        if self.jobs:
            main = _DEFER.format(name="jobs")
            self.params["jobs"] = _json(self.jobs)
        if not self.parts and not self.jobs:
            return
        if len(self.parts) == 1 and not self.jobs:
            sql = self.parts[0]
        elif self.parts:
            ctes = ", ".join(f"w{i} AS ({part})" for i, part in enumerate(self.parts))
            sql = f"WITH {ctes} {main}"
        else:
            sql = main
        await driver.execute(session, sql, self.params)
        self.parts, self.params, self.jobs = [], {}, []
