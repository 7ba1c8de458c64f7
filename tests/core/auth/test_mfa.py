"""Second factor by OTP after the password, with trusted devices for 45 days."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from ludus.core.audit.models import AuditEvent
from ludus.core.auth.models import Role, TrustedDevice
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from tests.core.auth.conftest import (
    PASSWORD,
    ClientFactory,
    bearer,
    login,
    new_phone,
    password_user,
    sent_code,
)
from tests.factories import make_tenant


async def _mfa_user(clients: ClientFactory, db: Database, **fields: Any) -> Any:
    tenant = await make_tenant(db)
    user = await password_user(db, tenant, Role.parent, **fields)
    first = (await login(clients(), tenant, user.email, device_id="setup")).json()["data"]
    resp = await clients().post(
        "/api/v1/auth/mfa/enable",
        json={"password": PASSWORD},
        headers=bearer(first["access_token"]),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"] == {"mfa_enabled": True}
    return tenant, user


async def _verify(client: AsyncClient, token: str, code: str, trust: bool = False) -> Any:
    return await client.post(
        "/api/v1/auth/mfa/verify", json={"mfa_token": token, "code": code, "trust_device": trust}
    )


class TestSecondFactor:
    async def test_login_asks_for_a_code_then_issues_tokens(
        self, clients: ClientFactory, db: Database
    ) -> None:
        phone = new_phone()
        tenant, user = await _mfa_user(clients, db, phone=phone)
        resp = await login(clients(), tenant, user.email, device_id="phone-7")
        assert resp.status_code == 200
        challenge = resp.json()["data"]
        assert challenge["mfa_required"] is True and challenge["channel"] == "sms"
        assert "access_token" not in challenge
        assert (
            challenge["destination"].endswith(phone[-3:]) and phone not in challenge["destination"]
        )
        code = await sent_code(db, phone)
        client = clients()
        wrong = await _verify(client, challenge["mfa_token"], f"{(int(code) + 1) % 10**6:06d}")
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "OTP_INVALID"
        ok = await _verify(client, challenge["mfa_token"], code)
        assert ok.status_code == 200, ok.text
        data = ok.json()["data"]
        assert data["role"] == "parent"
        assert (
            await client.get("/api/v1/me", headers=bearer(data["access_token"]))
        ).status_code == 200
        devices = (
            await client.get("/api/v1/auth/devices", headers=bearer(data["access_token"]))
        ).json()["data"]["devices"]
        assert "phone-7" in {d["device_id"] for d in devices}
        replay = await _verify(client, challenge["mfa_token"], code)
        assert replay.status_code == 401 and replay.json()["error"]["code"] == "MFA_TOKEN_INVALID"

    async def test_email_code_when_no_phone(self, clients: ClientFactory, db: Database) -> None:
        tenant, user = await _mfa_user(clients, db)
        challenge = (await login(clients(), tenant, user.email)).json()["data"]
        assert challenge["channel"] == "email"
        code = await sent_code(db, user.email)
        assert (await _verify(clients(), challenge["mfa_token"], code)).status_code == 200

    async def test_unknown_mfa_token(self, clients: ClientFactory) -> None:
        resp = await _verify(clients(), "x" * 43, "123456")
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "MFA_TOKEN_INVALID"

    async def test_enable_needs_the_password_and_is_audited(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        data = (await login(clients(), tenant, user.email)).json()["data"]
        wrong = await clients().post(
            "/api/v1/auth/mfa/enable",
            json={"password": "Not-The-Password-1"},
            headers=bearer(data["access_token"]),
        )
        assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "WRONG_PASSWORD"
        await clients().post(
            "/api/v1/auth/mfa/enable",
            json={"password": PASSWORD},
            headers=bearer(data["access_token"]),
        )
        async with db.session(system=True) as s:
            actions = (
                await s.scalars(
                    select(AuditEvent.action).where(AuditEvent.actor_user_id == user.id)
                )
            ).all()
        assert actions.count("auth.mfa_enabled") == 1


class TestTrustedDevices:
    async def test_trusted_device_skips_the_code_for_45_days(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant, user = await _mfa_user(clients, db)
        challenge = (await login(clients(), tenant, user.email, device_id="home-pc")).json()["data"]
        code = await sent_code(db, user.email)
        assert (
            await _verify(clients(), challenge["mfa_token"], code, trust=True)
        ).status_code == 200
        async with db.session(system=True) as s:
            stored = (
                await s.scalars(
                    select(TrustedDevice.device_hash).where(TrustedDevice.user_id == user.id)
                )
            ).all()
        assert len(stored) == 1 and "home-pc" not in stored[0]

        again = (await login(clients(), tenant, user.email, device_id="home-pc")).json()["data"]
        assert again["mfa_required"] is False and again["access_token"]
        other = (await login(clients(), tenant, user.email, device_id="cafe-pc")).json()["data"]
        assert other["mfa_required"] is True

        clock.advance(44 * 86400)
        later = (await login(clients(), tenant, user.email, device_id="home-pc")).json()["data"]
        assert later["mfa_required"] is False
        clock.advance(1 * 86400 + 60)
        expired = (await login(clients(), tenant, user.email, device_id="home-pc")).json()["data"]
        assert expired["mfa_required"] is True

    async def test_without_trust_the_next_login_asks_again(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant, user = await _mfa_user(clients, db)
        challenge = (await login(clients(), tenant, user.email, device_id="d1")).json()["data"]
        await _verify(clients(), challenge["mfa_token"], await sent_code(db, user.email))
        clock.advance(61)  # past the resend cool-down
        again = (await login(clients(), tenant, user.email, device_id="d1")).json()["data"]
        assert again["mfa_required"] is True
