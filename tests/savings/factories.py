"""Savings test helpers: an org (tenant) with its admin, members, and callback bodies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import orjson
from httpx import AsyncClient

from ludus.core.auth.models import Role
from ludus.core.kit.db import Database
from ludus.core.tenancy.models import Tenant, TenantKind
from ludus.savings import service
from ludus.savings.models import Member
from ludus.savings.mpesa.sandbox import c2b_confirmation_body
from ludus.savings.schemas import MemberIn
from tests.factories import Actor, make_actor, make_tenant

_phone_seq = iter(range(10_000_000, 99_999_999, 7919))


def new_phone() -> str:
    return f"+2547{next(_phone_seq):08d}"


@dataclass
class Org:
    tenant: Tenant
    admin: Actor
    token: str

    def url(self, kind: str) -> str:
        return f"/api/v1/savings/mpesa/{self.tenant.slug}/{self.token}/{kind}"


async def make_org(db: Database, **fields: object) -> Org:
    tenant = await make_tenant(
        db,
        kind=fields.pop("kind", TenantKind.chama),
        products=["savings"],
        currency="KES",
        timezone=fields.pop("timezone", "Africa/Nairobi"),
        **fields,
    )
    admin = await make_actor(db, tenant, Role.tenant_admin)
    async with db.session(tenant_id=tenant.id) as s:
        org_row = await service.ensure_org(s, tenant)
        org_row.callback_allowed_ips = ["127.0.0.1/32"]
        rotated = await service.rotate_callback_token(s, tenant.id, actor=None)
    return Org(tenant, admin, rotated.token)


async def add_member(db: Database, org: Org, name: str = "Member", **fields: object) -> Member:
    phone = str(fields.pop("phone", new_phone()))
    async with db.session(tenant_id=org.tenant.id) as s:
        return await service.invite_member(
            s, org.tenant.id, MemberIn(phone=phone, name=name, **fields), actor=None
        )


def c2b(trans_id: str, amount: int, bill_ref: str) -> bytes:
    body = c2b_confirmation_body(
        trans_id=trans_id, amount=amount, bill_ref=bill_ref, msisdn="2547***"
    )
    return orjson.dumps(body)


async def post(client: AsyncClient, url: str, body: bytes) -> int:
    resp = await client.post(url, content=body, headers={"content-type": "application/json"})
    return resp.status_code


def rid() -> str:
    return "R" + uuid.uuid4().hex[:9].upper()
