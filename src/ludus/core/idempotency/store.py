"""Claim, complete and replay idempotency keys.

Claim, side effects and stored response are one transaction: the request's own. The claim is
its first statement, and the row's index entry stays locked until the request ends, so a
concurrent duplicate waits for the outcome instead of polling. A request that fails rolls
back its claim with everything else, so the key can be retried.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

import orjson
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.idempotency.models import IdempotencyRecord
from ludus.core.kit import clock, driver
from ludus.core.kit.errors import BadRequest, IdempotencyInProgress, IdempotencyKeyReused

KEEP_FOR = timedelta(hours=24)
REPLAY_HEADERS = ("content-type", "location")


# Driver SQL: these run on every idempotent request, and building and running them through
# SQLAlchemy cost more client CPU than the statements (see core/kit/driver.py).
_CLAIM = (
    "INSERT INTO idempotency_keys (id, tenant_id, principal, key, method, path, body_hash,"
    " status, locked_at) VALUES (%(new_id)s, %(p_tenant_id)s, %(p_principal)s, %(p_key)s,"
    " %(p_method)s, %(p_path)s, %(p_body_hash)s, 'in_progress', %(p_locked_at)s)"
    " ON CONFLICT (principal, key) DO NOTHING RETURNING id"
)
_COMPLETE = (
    "UPDATE idempotency_keys SET status = 'completed', response_status = %s,"
    " response_headers = %s::jsonb, response_body = %s WHERE id = %s"
)


@dataclass(frozen=True)
class Claim:
    record_id: uuid.UUID


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def body_hash(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > 255:
        raise BadRequest("Idempotency-Key must be 1 to 255 characters.")
    return key


async def claim(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    principal: str,
    key: str,
    method: str,
    path: str,
    body: bytes,
) -> Claim | StoredResponse:
    """Claim `key` as the request transaction's first statement, or return the stored response.

    The claim row's unique index entry stays locked until the request commits or rolls
    back, so a concurrent duplicate waits here, then replays the committed response (or
    claims the key itself if the first request failed and rolled back).
    """
    fingerprint = body_hash(method, path, body)
    now = clock.utcnow()
    values = {
        "p_tenant_id": tenant_id,
        "p_principal": principal,
        "p_key": key,
        "p_method": method,
        "p_path": path,
        "p_body_hash": fingerprint,
        "p_locked_at": now,
    }
    for _ in range(2):
        inserted = await driver.fetch(session, _CLAIM, {"new_id": uuid.uuid4(), **values})
        if inserted:
            return Claim(inserted[0].id)
        row = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
            )
        )
        if row is None:
            continue  # purged meanwhile
        if row.created_at < now - KEEP_FOR or row.status != "completed":
            # Expired, or an in-progress row left committed by an older release: take over.
            await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == row.id))
            continue
        if row.body_hash != fingerprint:
            raise IdempotencyKeyReused(details={"method": row.method, "path": row.path})
        return StoredResponse(
            status=row.response_status or 200,
            headers=dict(row.response_headers or {}),
            body=row.response_body or b"",
        )
    raise IdempotencyInProgress()


async def complete(
    session: AsyncSession, claim_: Claim, status: int, headers: dict[str, str], body: bytes
) -> None:
    """Record the response inside the request's transaction (commits with the side effect)."""
    kept = {k: v for k, v in headers.items() if k in REPLAY_HEADERS}
    await driver.execute(
        session, _COMPLETE, (status, orjson.dumps(kept).decode(), body, claim_.record_id)
    )


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < clock.utcnow() - KEEP_FOR)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
