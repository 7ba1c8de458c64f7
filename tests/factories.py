"""Test data factories: real rows through the models, committed so HTTP calls can see them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ludus.core.auth.models import AuthSession, Membership, Role, User
from ludus.core.auth.tokens import issue_access_token
from ludus.core.kit.db import Database
from ludus.core.tenancy.models import Tenant, TenantKind, TenantStatus


@dataclass
class Actor:
    user: User
    tenant: Tenant | None
    role: Role
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def make_tenant(db: Database, **fields: Any) -> Tenant:
    tenant = Tenant(
        id=uuid.uuid4(),
        slug=fields.pop("slug", unique("t")),
        name=fields.pop("name", "Test Tenant"),
        kind=fields.pop("kind", TenantKind.bank_partner),
        status=fields.pop("status", TenantStatus.active),
        theme=fields.pop("theme", {"brand_name": "Test", "primary_color": "#0A3D6B"}),
        features=fields.pop("features", {}),
        config=fields.pop("config", {}),
        products=fields.pop("products", ["moneylife"]),
        default_locale=fields.pop("default_locale", "en"),
        currency=fields.pop("currency", "USD"),
        timezone=fields.pop("timezone", "UTC"),
        **fields,
    )
    async with db.session(system=True) as s:
        s.add(tenant)
    return tenant


async def make_user(
    db: Database,
    tenant: Tenant | None,
    role: Role = Role.member,
    **fields: Any,
) -> User:
    user = User(
        id=uuid.uuid4(),
        email=fields.pop("email", f"{unique('u')}@example.com"),
        phone=fields.pop("phone", None),
        password_hash=fields.pop("password_hash", None),
        display_name=fields.pop("display_name", "Test User"),
        locale=fields.pop("locale", "en"),
        timezone=fields.pop("timezone", "UTC"),
        status=fields.pop("status", "active"),
        is_system_admin=role == Role.system_admin,
        **fields,
    )
    async with db.session(system=True) as s:
        s.add(user)
        await s.flush()
        if tenant is not None:
            s.add(Membership(id=uuid.uuid4(), tenant_id=tenant.id, user_id=user.id, role=role))
    return user


async def make_actor(db: Database, tenant: Tenant | None, role: Role = Role.member) -> Actor:
    user = await make_user(db, tenant, role)
    return Actor(user, tenant, role, await token_for(db, user, tenant, role))


async def token_for(db: Database, user: User, tenant: Tenant | None, role: Role) -> str:
    async with db.session(system=True) as s:
        sid = None
        if tenant is not None:
            auth_session = AuthSession(id=uuid.uuid4(), tenant_id=tenant.id, user_id=user.id)
            s.add(auth_session)
            await s.flush()
            sid = auth_session.id
        token, _ = await issue_access_token(
            s,
            user_id=user.id,
            tenant_id=tenant.id if tenant else None,
            role=role.value,
            session_id=sid,
        )
    return token
