"""Claim, complete and replay idempotency keys.

The claim is committed on its own so concurrent duplicates see it at once; the completion is
written in the request's own transaction, so the stored response and the side effect commit
together (a crash leaves a stale claim and no side effect, and a later retry takes over).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.idempotency.models import IdempotencyRecord
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.kit.errors import BadRequest, IdempotencyInProgress, IdempotencyKeyReused

STALE_AFTER = timedelta(seconds=60)
KEEP_FOR = timedelta(hours=24)
WAIT_SECONDS = 30.0
REPLAY_HEADERS = ("content-type", "location")


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
    db: Database,
    *,
    tenant_id: uuid.UUID | None,
    principal: str,
    key: str,
    method: str,
    path: str,
    body: bytes,
) -> Claim | StoredResponse:
    fingerprint = body_hash(method, path, body)
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        async with db.session(system=True) as session:
            got = await _try_claim(session, tenant_id, principal, key, method, path, fingerprint)
        if got is not None:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise IdempotencyInProgress()
        await asyncio.sleep(0.02)


async def _try_claim(
    session: AsyncSession,
    tenant_id: uuid.UUID | None,
    principal: str,
    key: str,
    method: str,
    path: str,
    fingerprint: str,
) -> Claim | StoredResponse | None:
    now = clock.utcnow()
    inserted = await session.scalar(
        insert(IdempotencyRecord)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            principal=principal,
            key=key,
            method=method,
            path=path,
            body_hash=fingerprint,
            status="in_progress",
            locked_at=now,
        )
        .on_conflict_do_nothing(index_elements=["principal", "key"])
        .returning(IdempotencyRecord.id)
    )
    if inserted is not None:
        return Claim(inserted)
    row = await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
        )
    )
    if row is None:
        return None  # released meanwhile; try to claim again
    if row.created_at < now - KEEP_FOR:
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == row.id))
        return None
    if row.body_hash != fingerprint:
        raise IdempotencyKeyReused(details={"method": row.method, "path": row.path})
    if row.status == "completed":
        return StoredResponse(
            status=row.response_status or 200,
            headers=dict(row.response_headers or {}),
            body=row.response_body or b"",
        )
    if row.locked_at < now - STALE_AFTER:
        taken = await session.scalar(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == row.id, IdempotencyRecord.locked_at == row.locked_at)
            .values(locked_at=now)
            .returning(IdempotencyRecord.id)
        )
        if taken is not None:
            return Claim(taken)
    return None


async def complete(
    session: AsyncSession, claim_: Claim, status: int, headers: dict[str, str], body: bytes
) -> None:
    """Record the response inside the request's transaction (commits with the side effect)."""
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == claim_.record_id)
        .values(
            status="completed",
            response_status=status,
            response_headers={k: v for k, v in headers.items() if k in REPLAY_HEADERS},
            response_body=body,
        )
    )


async def release(db: Database, claim_: Claim) -> None:
    """Forget a claim whose request changed nothing (4xx/5xx), so the key can be retried."""
    async with db.session(system=True) as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.id == claim_.record_id,
                IdempotencyRecord.status == "in_progress",
            )
        )


async def purge_expired(session: AsyncSession) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < clock.utcnow() - KEEP_FOR)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
