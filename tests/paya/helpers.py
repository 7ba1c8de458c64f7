"""PaYa test helpers: tenants, members (with backdated sign-up), funding through the real
load flow against the sandbox bank."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import update

from ludus.core.auth.models import Role
from ludus.core.kit.db import Database
from ludus.core.tenancy.models import Tenant, TenantKind
from ludus.paya.models import Profile
from ludus.paya.tasks import process_movement
from tests.factories import Actor, make_actor, make_tenant

OPEN_LIMITS = {
    "limits": {
        "max_transfer": 100_000,
        "sends_per_hour": 10_000,
        "sends_per_day": 10_000,
        "unique_recipients_per_day": 10_000,
        "max_load_per_week": 1_000_000,
    },
    "new_account": {"first_week_max_load": 1_000_000, "cooling_daily_send_limit": 1_000_000},
}


async def paya_tenant(db: Database, paya: dict[str, Any] | None = None) -> Tenant:
    return await make_tenant(
        db, kind=TenantKind.payment_network, products=["paya"], config={"paya": paya or {}}
    )


async def member(
    db: Database,
    client: AsyncClient,
    tenant: Tenant,
    username: str | None = None,
    *,
    age_days: int = 30,
    role: Role = Role.member,
) -> Actor:
    """A signed-in user with a PaYa profile created `age_days` ago."""
    actor = await make_actor(db, tenant, role)
    name = username or f"u{uuid.uuid4().hex[:12]}"
    resp = await client.post("/api/v1/paya/profile", json={"username": name}, headers=actor.headers)
    assert resp.status_code == 201, resp.text
    if age_days:
        async with db.session(system=True) as s:
            await s.execute(
                update(Profile)
                .where(Profile.user_id == actor.user.id)
                .values(created_at=Profile.created_at - timedelta(days=age_days))
            )
    return actor


async def link_bank(client: AsyncClient, actor: Actor, token: str = "public-sandbox-ok") -> str:
    resp = await client.post(
        "/api/v1/paya/bank/links", json={"public_token": token}, headers=actor.headers
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["data"]["id"])


async def settle(db: Database, movement_id: str, rounds: int = 2) -> str | None:
    status = None
    for _ in range(rounds):
        status = await process_movement(db, uuid.UUID(movement_id))
    return status


async def fund(db: Database, client: AsyncClient, actor: Actor, amount: int) -> None:
    """Load `amount` tokens through the real flow (link, ACH pull, settle)."""
    links = await client.get("/api/v1/paya/bank/links", headers=actor.headers)
    if not links.json()["data"]:
        await link_bank(client, actor)
    resp = await client.post(
        "/api/v1/paya/loads",
        json={"amount": amount},
        headers={**actor.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert resp.status_code == 202, resp.text
    assert await settle(db, resp.json()["data"]["id"]) == "settled"


async def balance(client: AsyncClient, actor: Actor) -> int:
    resp = await client.get("/api/v1/paya/me", headers=actor.headers)
    assert resp.status_code == 200, resp.text
    return int(resp.json()["data"]["balance"])


async def send(
    client: AsyncClient,
    actor: Actor,
    to: str,
    amount: int,
    *,
    public: bool = True,
    memo: str = "",
    key: str | None = None,
) -> Any:
    headers = {**actor.headers, "Idempotency-Key": key or uuid.uuid4().hex}
    return await client.post(
        "/api/v1/paya/transfers",
        json={"to": to, "amount": amount, "memo": memo, "public": public},
        headers=headers,
    )
