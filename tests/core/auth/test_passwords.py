"""Password change and reset by emailed single-use token."""

from __future__ import annotations

import re
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from ludus.core.audit.models import AuditEvent
from ludus.core.auth.models import PasswordResetToken
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.tenancy.models import Tenant
from tests.core.auth.conftest import (
    PASSWORD,
    ClientFactory,
    bearer,
    last_message,
    login,
    message_count,
    password_user,
    tenant_headers,
)
from tests.factories import make_tenant

NEW_PASSWORD = "Brand-New-Secret-77"


async def _ask_reset(client: AsyncClient, tenant: Tenant, email: str) -> Any:
    return await client.post(
        "/api/v1/auth/password/reset", json={"email": email}, headers=tenant_headers(tenant)
    )


async def _reset_token(db: Database, email: str) -> str:
    message = await last_message(db, email, "password_reset")
    match = re.search(r"token=([A-Za-z0-9_-]+)", message.body)
    assert match, message.body
    return match.group(1)


async def _confirm(client: AsyncClient, token: str, password: str = NEW_PASSWORD) -> Any:
    return await client.post(
        "/api/v1/auth/password/reset/confirm", json={"token": token, "new_password": password}
    )


class TestPasswordReset:
    async def test_reset_flow_and_single_use(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        old_session = (await login(clients(), tenant, user.email)).json()["data"]
        client = clients()
        resp = await _ask_reset(client, tenant, user.email)
        assert resp.status_code == 202
        token = await _reset_token(db, user.email)
        async with db.session(system=True) as s:
            stored = (
                await s.scalars(
                    select(PasswordResetToken.token_hash).where(
                        PasswordResetToken.user_id == user.id
                    )
                )
            ).all()
        assert len(stored) == 1 and token not in stored[0]

        weak = await _confirm(client, token, "weakweakweak")
        assert weak.status_code == 422 and weak.json()["error"]["code"] == "WEAK_PASSWORD"
        assert (await _confirm(client, token)).status_code == 204
        reused = await _confirm(client, token, "Another-Secret-88")
        assert reused.status_code == 400
        assert reused.json()["error"]["code"] == "RESET_TOKEN_INVALID"

        assert (await login(clients(), tenant, user.email)).status_code == 401
        assert (await login(clients(), tenant, user.email, NEW_PASSWORD)).status_code == 200
        me = await client.get("/api/v1/me", headers=bearer(old_session["access_token"]))
        assert me.status_code == 401  # every session was signed out

    async def test_unknown_email_gets_the_same_answer_and_no_mail(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        resp = await _ask_reset(clients(), tenant, "ghost@example.com")
        assert resp.status_code == 202
        assert resp.json() == {"success": True, "data": {"accepted": True}}
        assert await message_count(db, "ghost@example.com", "password_reset") == 0

    async def test_member_of_another_tenant_gets_no_mail(
        self, clients: ClientFactory, db: Database
    ) -> None:
        home, other = await make_tenant(db), await make_tenant(db)
        user = await password_user(db, home)
        assert (await _ask_reset(clients(), other, user.email)).status_code == 202
        assert await message_count(db, user.email, "password_reset") == 0

    async def test_token_expires_after_an_hour(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        await _ask_reset(clients(), tenant, user.email)
        token = await _reset_token(db, user.email)
        clock.advance(3600)
        resp = await _confirm(clients(), token)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "RESET_TOKEN_INVALID"

    async def test_using_one_token_voids_the_others(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        await _ask_reset(clients(), tenant, user.email)
        first = await _reset_token(db, user.email)
        await _ask_reset(clients(), tenant, user.email)
        second = await _reset_token(db, user.email)
        assert first != second
        assert (await _confirm(clients(), second)).status_code == 204
        assert (await _confirm(clients(), first, "Yet-Another-Secret-9")).status_code == 400


class TestPasswordChange:
    async def test_change_keeps_this_session_and_signs_out_others(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        phone = (await login(clients(), tenant, user.email, device_id="phone")).json()["data"]
        laptop = (await login(clients(), tenant, user.email, device_id="laptop")).json()["data"]
        client = clients()
        wrong = await client.post(
            "/api/v1/auth/password/change",
            json={"old_password": "Not-It-12345", "new_password": NEW_PASSWORD},
            headers=bearer(laptop["access_token"]),
        )
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "WRONG_PASSWORD"
        resp = await client.post(
            "/api/v1/auth/password/change",
            json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=bearer(laptop["access_token"]),
        )
        assert resp.status_code == 204, resp.text
        assert (
            await client.get("/api/v1/me", headers=bearer(laptop["access_token"]))
        ).status_code == 200
        assert (
            await client.get("/api/v1/me", headers=bearer(phone["access_token"]))
        ).status_code == 401
        refresh = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}
        )
        assert refresh.status_code == 401
        assert (await login(clients(), tenant, user.email, NEW_PASSWORD)).status_code == 200
        async with db.session(system=True) as s:
            action = await s.scalar(
                select(AuditEvent.action).where(
                    AuditEvent.actor_user_id == user.id,
                    AuditEvent.action == "auth.password_changed",
                )
            )
        assert action == "auth.password_changed"
