"""Auth test fixtures: clients from chosen IPs, password users, reading sent codes."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select

from ludus.core.auth.models import Role, User
from ludus.core.auth.passwords import hash_async
from ludus.core.kit.db import Database
from ludus.core.notifications.models import NotificationMessage
from ludus.core.tenancy.models import Tenant
from tests.factories import make_user, unique

PASSWORD = "Correct-Horse-42"
_ips = itertools.count(1)

ClientFactory = Callable[..., AsyncClient]


def fresh_ip() -> str:
    n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@pytest.fixture
async def clients(app: object) -> AsyncIterator[ClientFactory]:
    """Make clients that call from a given (default: a new) IP, so login limits stay apart."""
    made: list[AsyncClient] = []

    def make(ip: str | None = None) -> AsyncClient:
        transport = ASGITransport(app=app, client=(ip or fresh_ip(), 4321))  # type: ignore[arg-type]
        c = AsyncClient(transport=transport, base_url="http://testserver")
        made.append(c)
        return c

    yield make
    for c in made:
        await c.aclose()


async def password_user(
    db: Database, tenant: Tenant | None, role: Role = Role.member, **fields: Any
) -> User:
    return await make_user(
        db,
        tenant,
        role,
        email=fields.pop("email", f"{unique('u')}@example.com"),
        password_hash=await hash_async(fields.pop("password", PASSWORD)),
        **fields,
    )


def tenant_headers(tenant: Tenant, **extra: str) -> dict[str, str]:
    return {"X-Tenant": tenant.slug, **extra}


async def login(
    client: AsyncClient, tenant: Tenant | None, email: str, password: str = PASSWORD, **body: Any
) -> Any:
    headers = tenant_headers(tenant) if tenant else {}
    payload = {"email": email, "password": password, "device_id": body.pop("device_id", "dev-1")}
    payload.update(body)
    return await client.post("/api/v1/auth/login", json=payload, headers=headers)


async def last_message(db: Database, recipient: str, kind: str) -> NotificationMessage:
    async with db.session(system=True) as s:
        row = await s.scalar(
            select(NotificationMessage)
            .where(NotificationMessage.recipient == recipient, NotificationMessage.kind == kind)
            .order_by(NotificationMessage.created_at.desc())
            .limit(1)
        )
    assert row is not None, f"no {kind} message to {recipient}"
    return row


async def sent_code(db: Database, recipient: str) -> str:
    message = await last_message(db, recipient, "otp")
    match = re.search(r"\b(\d{6})\b", message.body)
    assert match, message.body
    return match.group(1)


async def message_count(db: Database, recipient: str, kind: str) -> int:
    async with db.session(system=True) as s:
        rows = await s.scalars(
            select(NotificationMessage.id).where(
                NotificationMessage.recipient == recipient, NotificationMessage.kind == kind
            )
        )
        return len(rows.all())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_phone() -> str:
    """A valid, unused Kenyan mobile number in E.164."""
    return f"+2547{uuid.uuid4().int % 10**8:08d}"
