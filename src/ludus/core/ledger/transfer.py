"""The single write path for postings: one call of the SQL function `ledger_transfer`,
plus the retry wrapper every ledger operation runs in.

The call is sent as driver SQL on the session's own connection (after SQLAlchemy began the
transaction, so the tenant context applies): building and running it through SQLAlchemy
cost about as much client CPU as the rest of a transfer. Driver errors are re-raised as
SQLAlchemy's, like every other statement.

Retries: deadlocks (40P01) and serialization failures (40001) are retried here, a bounded
number of times, and never reach the caller. The call goes through
`ledger_transfer_retryable`, which runs it in a server-side savepoint (a PL/pgSQL exception
block) and answers `RETRY` for those two errors with the call undone, so a single call needs
no client SAVEPOINT round trips; operations of several statements still run inside one.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import configure_mappers, make_transient_to_detached

from ludus.core.kit import driver
from ludus.core.kit.errors import ConcurrentUpdate, ValidationFailed
from ludus.core.ledger.errors import BY_CODE, InvalidAmount, LedgerError, Unbalanced
from ludus.core.ledger.models import LedgerTransaction

T = TypeVar("T")

MAX_ATTEMPTS = 8
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
MAX_AMOUNT = 2**62  # far above any real amount; keeps sums inside BIGINT

_TRANSFER = (
    "SELECT err, detail, tx_id, tx_kind, tx_metadata, tx_reversal_of, tx_hold_id,"
    " tx_created_at, replayed FROM ledger_transfer_retryable(%s::uuid, %s, %s, %s::jsonb, %s,"
    " %s::uuid[], %s::bigint[], %s::uuid, %s::uuid, %s::uuid, %s::bigint)"
)
_EMPTY_METADATA = "{}"
_LEDGER_TX = sa_inspect(LedgerTransaction)


def loaded_transaction(**columns: Any) -> LedgerTransaction:
    """A LedgerTransaction as if loaded from the database (`columns` are all of them): no
    attribute starts out as a change to flush, and none of the constructor's per-attribute
    events run."""
    if not _LEDGER_TX.configured:
        configure_mappers()  # the constructor would have; a process's first transfer may be here
    tx: LedgerTransaction = _LEDGER_TX.class_manager.new_instance()
    tx.__dict__.update(columns)
    return tx


def _account_id(value: object) -> str:
    """Canonical text of an account id; anything else is refused before it reaches SQL."""
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise ValidationFailed("Account ids must be UUIDs.") from exc


def sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None)


class TransferRetry(Exception):
    """The transfer hit a deadlock or serialization failure; the server undid only the call."""

    def __init__(self, detail: dict[str, Any] | None) -> None:
        super().__init__(detail)
        self.sqlstate = str((detail or {}).get("sqlstate", ""))


async def run_atomic(
    session: AsyncSession, op: Callable[[], Awaitable[T]], *, savepoint: bool = True
) -> T:
    """Run `op` with deadlock/serialization retries (see the module docstring).

    `savepoint=False` is for an `op` that is one `call_transfer`: the server-side
    savepoint of `ledger_transfer_retryable` already undoes a failed call, so the call is
    simply repeated.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            if not savepoint:
                return await op()
            async with session.begin_nested():
                return await op()
        except TransferRetry as exc:
            if attempt == MAX_ATTEMPTS:
                raise ConcurrentUpdate(details={"sqlstate": exc.sqlstate}) from exc
        except DBAPIError as exc:
            if sqlstate(exc) not in RETRYABLE_SQLSTATES or attempt == MAX_ATTEMPTS:
                raise
        await asyncio.sleep(random.uniform(0, 0.002 * attempt))
    raise AssertionError("unreachable")


async def ensure_balanced(session: AsyncSession) -> None:
    """Run the deferred per-asset balance check now instead of at commit.

    Raises UNBALANCED if any posting written in this transaction leaves its transaction
    unbalanced (only possible when postings are written outside `ledger_transfer`).
    """
    try:
        async with session.begin_nested():
            await session.execute(text("SET CONSTRAINTS ledger_postings_balanced IMMEDIATE"))
    except IntegrityError as exc:
        raise Unbalanced(details={"constraint": "ledger_postings_balanced"}) from exc
    await session.execute(text("SET CONSTRAINTS ledger_postings_balanced DEFERRED"))


def check_amount(amount: object, *, positive: bool = True) -> int:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidAmount(details={"amount": repr(amount)})
    if amount == 0 or abs(amount) > MAX_AMOUNT or (positive and amount < 0):
        raise InvalidAmount(details={"amount": amount})
    return amount


def check_key(value: str, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationFailed(f"{field} must be 1 to {limit} characters.")
    return value


def check_entries(entries: Sequence[tuple[uuid.UUID, int]]) -> list[tuple[uuid.UUID, int]]:
    checked = [(account_id, check_amount(amount, positive=False)) for account_id, amount in entries]
    if len(checked) < 2:
        raise Unbalanced("A transaction needs at least two postings.")
    if len({account_id for account_id, _ in checked}) != len(checked):
        raise InvalidAmount("Each account may appear only once in a transaction.")
    return checked


def digest(kind: str, entries: Sequence[tuple[uuid.UUID, int]], *extra: object) -> str:
    """What a ledger idempotency key stands for: kind, postings and the operation's target."""
    parts = [kind, *(f"{a}:{m}" for a, m in sorted(entries, key=lambda e: str(e[0])))]
    parts.extend(str(x) for x in extra)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


async def call_transfer(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    idempotency_key: str,
    kind: str,
    entries: Sequence[tuple[uuid.UUID, int]],
    metadata: dict[str, Any] | None,
    request_hash: str,
    reversal_of: uuid.UUID | None = None,
    hold_id: uuid.UUID | None = None,
    release_account: uuid.UUID | None = None,
    release: int = 0,
) -> LedgerTransaction:
    """One round trip; raises the matching LedgerError when the function refuses."""
    params = (
        tenant_id,
        idempotency_key,
        kind,
        orjson.dumps(metadata).decode() if metadata else _EMPTY_METADATA,
        request_hash,
        # Array literals as text (cast in the SQL): cheaper than psycopg's list dumpers.
        "{" + ",".join(_account_id(a) for a, _ in entries) + "}",
        "{" + ",".join(str(m) for _, m in entries) + "}",
        reversal_of,
        hold_id,
        release_account,
        release,
    )
    (row,) = await driver.fetch(session, _TRANSFER, params)
    err_code, detail, tx_id, tx_kind, meta, reversal, hold, created_at, replayed = row
    if err_code == "RETRY":
        raise TransferRetry(detail)
    if err_code is not None:
        raise BY_CODE.get(err_code, LedgerError)(details=detail or {})
    tx = loaded_transaction(
        id=tx_id,
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        kind=tx_kind,
        meta=meta,
        request_hash=request_hash,
        reversal_of=reversal,
        hold_id=hold,
        created_at=created_at,
    )
    # Attach without a second round trip. A new id cannot be in the session yet; a
    # replayed one may be, so it is merged.
    make_transient_to_detached(tx)
    if not replayed:
        session.sync_session.add(tx)
        return tx
    attached = session.sync_session.merge(tx, load=False)  # no IO with load=False
    attached.replayed = True
    return attached
