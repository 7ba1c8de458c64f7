"""The M-Pesa callback path (HTTP): verify, store raw once, make sure a drain is queued.

A month-end burst makes this the hottest path of the product, so it stays at two
statements in the common case: (1) the org's token and source list, taking the shared
drain lock; (2) the raw insert (a redelivery only counts `deliveries`), which also reads
whether a drain is already queued. Only when none is queued does a third statement flip
`drain_scheduled` and defer the job. Everything else happens in the drain job.

Why the lock: the drain's last emptiness check takes the exclusive side of it, so it waits
for callbacks still being stored; a callback is either seen by that check or reads the
cleared flag and queues the next drain (see `tasks`).
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from functools import lru_cache

import orjson
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import crypto, driver
from ludus.core.kit.db import set_tenant
from ludus.core.kit.errors import error_code
from ludus.core.tenancy.models import Tenant
from ludus.savings import tasks
from ludus.savings.models import CallbackKind, CallbackStatus, MpesaCallback, SavingsOrg
from ludus.savings.mpesa.base import MalformedCallback, parse_c2b, parse_stk
from ludus.savings.service import TOKEN_PURPOSE

CallbackForbidden = error_code(403, "MPESA_CALLBACK_FORBIDDEN", "Callback source not allowed.")
SLUG_TTL = 60.0  # seconds a slug -> tenant id lookup is reused
_slugs: dict[str, tuple[uuid.UUID, float]] = {}
_callbacks: Table = MpesaCallback.__table__  # type: ignore[assignment]


def source_allowed(allowed: list[str], ip: str | None) -> bool:
    if not allowed or ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@lru_cache(maxsize=4096)
def _opened(sealed: str) -> str:
    """Keyed by the sealed value, so a rotated token is never served from here."""
    return crypto.decrypt(sealed, purpose=TOKEN_PURPOSE)


def dedup_key(kind: CallbackKind, raw: bytes) -> str:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedCallback("The callback body is not JSON.") from exc
    if kind == CallbackKind.stk_result:
        return parse_stk(payload).checkout_request_id
    return parse_c2b(payload).trans_id


async def _tenant_id(session: AsyncSession, slug: str) -> uuid.UUID | None:
    slug = slug.lower()
    hit = _slugs.get(slug)
    now = time.monotonic()
    if hit is not None and hit[1] > now:
        return hit[0]
    tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tenant_id is not None:
        _slugs[slug] = (tenant_id, now + SLUG_TTL)
    return tenant_id


_orgs: Table = SavingsOrg.__table__  # type: ignore[assignment]
# Driver-level SQL: this path runs for every callback of a burst.
_ORG = (
    f"SELECT callback_token_enc, callback_allowed_ips,"
    " pg_advisory_xact_lock_shared(hashtext('savings-drain:' || %(t)s::text))"
    f" FROM {SavingsOrg.__tablename__} WHERE tenant_id = %(t)s"
)
_STORE = (
    f"INSERT INTO {MpesaCallback.__tablename__} (id, tenant_id, kind, dedup_key, raw_body,"
    " source_ip, deliveries, status)"
    " VALUES (%(id)s, %(t)s, %(kind)s, %(key)s, %(raw)s, %(ip)s, 1, %(received)s)"
    " ON CONFLICT ON CONSTRAINT uq_savings_mpesa_callbacks_tenant_id_kind_dedup_key"
    f" DO UPDATE SET deliveries = {MpesaCallback.__tablename__}.deliveries + 1"
    " RETURNING id, deliveries,"
    f" (SELECT drain_scheduled FROM {SavingsOrg.__tablename__} WHERE tenant_id = %(t)s)"
)


async def receive(
    session: AsyncSession, slug: str, token: str, kind: CallbackKind, raw: bytes, ip: str | None
) -> uuid.UUID:
    """Verify and store one callback; returns its id. Refusals store nothing."""
    tenant_id = await _tenant_id(session, slug)
    if tenant_id is None:
        raise CallbackForbidden("Unknown callback token.")
    await set_tenant(session, tenant_id)
    found = await driver.fetch(session, _ORG, {"t": tenant_id})
    org = found[0] if found else None
    if org is None or not org[0] or not crypto.constant_time_equal(token, _opened(org[0])):
        raise CallbackForbidden("Unknown callback token.")
    if not source_allowed(org[1], ip):
        raise CallbackForbidden(details={"ip": ip})
    key = dedup_key(kind, raw)  # malformed bodies are refused before anything is stored
    params = {"id": uuid.uuid4(), "t": tenant_id, "kind": kind.name, "key": key,
              "raw": raw, "ip": ip, "received": CallbackStatus.received.name}  # fmt: skip
    (row,) = await driver.fetch(session, _STORE, params)
    if row[1] == 1 and kind != CallbackKind.c2b_validation and not row[2]:
        await schedule_drain(session, tenant_id)
    return uuid.UUID(str(row[0]))


async def schedule_drain(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Flip `drain_scheduled` and defer a drain, unless another caller just did."""
    flipped = await session.execute(
        update(_orgs)
        .where(_orgs.c.tenant_id == tenant_id, _orgs.c.drain_scheduled.is_(False))
        .values(drain_scheduled=True)
        .returning(_orgs.c.id)
    )
    if flipped.first() is not None:
        await tasks.defer_drain(session, tenant_id)
