"""Phone OTP sign-in: E.164 numbers, 6-digit codes, expiry, attempts and resend cool-down."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from ludus.core.auth.models import Membership, OtpChallenge, Role, User
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.tenancy.models import Tenant
from tests.core.auth.conftest import (
    ClientFactory,
    bearer,
    message_count,
    new_phone,
    sent_code,
    tenant_headers,
)
from tests.factories import make_tenant, make_user


async def _request(client: AsyncClient, tenant: Tenant, phone: str) -> Any:
    return await client.post(
        "/api/v1/auth/otp/request", json={"phone": phone}, headers=tenant_headers(tenant)
    )


async def _verify(client: AsyncClient, tenant: Tenant, phone: str, code: str, **extra: Any) -> Any:
    body = {"phone": phone, "code": code, "device_id": "phone-1", **extra}
    return await client.post("/api/v1/auth/otp/verify", json=body, headers=tenant_headers(tenant))


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


class TestOtpSignIn:
    async def test_new_number_registers_and_signs_in(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        phone = new_phone()
        local = "0" + phone[4:]  # the same number in national form needs the + form
        client = clients()
        assert (await _request(client, tenant, local)).status_code == 422
        spaced = f"{phone[:4]} {phone[4:7]} {phone[7:]}"
        resp = await _request(client, tenant, spaced)
        assert resp.status_code == 202, resp.text
        assert resp.json()["data"] == {"phone": phone, "expires_in": 300, "resend_after": 60}
        code = await sent_code(db, phone)
        resp = await _verify(client, tenant, phone, code, display_name="Wanjiru")
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert data["is_new"] is True and data["role"] == "member"
        assert data["user"]["phone"] == phone and data["user"]["display_name"] == "Wanjiru"
        assert (
            await client.get("/api/v1/me", headers=bearer(data["access_token"]))
        ).status_code == 200
        async with db.session(system=True) as s:
            challenge = await s.scalar(
                select(OtpChallenge).where(OtpChallenge.destination == phone)
            )
            membership = await s.scalar(
                select(Membership).where(Membership.user_id == data["user_id"])
            )
        assert challenge is not None and code not in challenge.code_hash
        assert challenge.consumed_at is not None
        assert membership is not None and membership.tenant_id == tenant.id

    async def test_existing_user_signs_in_and_code_is_single_use(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        phone = new_phone()
        user = await make_user(db, tenant, Role.member, phone=phone)
        client = clients()
        await _request(client, tenant, phone)
        code = await sent_code(db, phone)
        resp = await _verify(client, tenant, phone, code)
        assert resp.status_code == 200
        assert resp.json()["data"]["user_id"] == str(user.id)
        assert resp.json()["data"]["is_new"] is False
        again = await _verify(client, tenant, phone, code)
        assert again.status_code == 401 and again.json()["error"]["code"] == "OTP_INVALID"
        async with db.session(system=True) as s:
            count = len((await s.scalars(select(User.id).where(User.phone == phone))).all())
        assert count == 1


class TestOtpLimits:
    async def test_code_expires_after_five_minutes(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        phone = new_phone()
        client = clients()
        await _request(client, tenant, phone)
        code = await sent_code(db, phone)
        clock.advance(300)
        resp = await _verify(client, tenant, phone, code)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "OTP_EXPIRED"

    async def test_valid_just_before_expiry(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        phone = new_phone()
        client = clients()
        await _request(client, tenant, phone)
        clock.advance(295)
        assert (await _verify(client, tenant, phone, await sent_code(db, phone))).status_code == 200

    async def test_three_attempts_then_dead(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        phone = new_phone()
        client = clients()
        await _request(client, tenant, phone)
        code = await sent_code(db, phone)
        first = await _verify(client, tenant, phone, _wrong(code))
        assert first.status_code == 401
        assert first.json()["error"]["code"] == "OTP_INVALID"
        assert first.json()["error"]["details"]["attempts_left"] == 2
        second = await _verify(client, tenant, phone, _wrong(code))
        assert second.json()["error"]["details"]["attempts_left"] == 1
        third = await _verify(client, tenant, phone, _wrong(code))
        assert third.status_code == 429
        assert third.json()["error"]["code"] == "OTP_ATTEMPTS_EXCEEDED"
        # The right code no longer works either.
        right = await _verify(client, tenant, phone, code)
        assert right.json()["error"]["code"] == "OTP_ATTEMPTS_EXCEEDED"

    async def test_right_code_on_the_last_attempt(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        phone = new_phone()
        client = clients()
        await _request(client, tenant, phone)
        code = await sent_code(db, phone)
        for _ in range(2):
            await _verify(client, tenant, phone, _wrong(code))
        assert (await _verify(client, tenant, phone, code)).status_code == 200

    async def test_resend_cooldown(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        phone = new_phone()
        client = clients()
        assert (await _request(client, tenant, phone)).status_code == 202
        clock.advance(45)
        resp = await _request(client, tenant, phone)
        assert resp.status_code == 429
        error = resp.json()["error"]
        assert error["code"] == "OTP_COOLDOWN"
        assert error["details"]["retry_after"] == 15
        assert resp.headers["retry-after"] == "15"
        assert await message_count(db, phone, "otp") == 1
        clock.advance(15)
        assert (await _request(client, tenant, phone)).status_code == 202
        assert await message_count(db, phone, "otp") == 2

    async def test_new_code_replaces_the_old_one(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        phone = new_phone()
        client = clients()
        await _request(client, tenant, phone)
        old = await sent_code(db, phone)
        clock.advance(61)
        await _request(client, tenant, phone)
        new = await sent_code(db, phone)
        if old != new:
            assert (await _verify(client, tenant, phone, old)).status_code == 401
        assert (await _verify(client, tenant, phone, new)).status_code == 200

    async def test_codes_are_per_tenant(self, clients: ClientFactory, db: Database) -> None:
        a, b = await make_tenant(db), await make_tenant(db)
        phone = new_phone()
        client = clients()
        await _request(client, a, phone)
        code = await sent_code(db, phone)
        resp = await _verify(client, b, phone, code)
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "OTP_INVALID"
        assert (await _request(client, b, phone)).status_code == 202  # no cool-down across tenants
