"""Races: parallel refreshes of one token, and parallel OTP guesses."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from ludus.core.auth.models import OtpChallenge
from ludus.core.kit.db import Database
from tests.core.auth.conftest import (
    ClientFactory,
    login,
    new_phone,
    password_user,
    sent_code,
    tenant_headers,
)
from tests.factories import make_tenant


class TestRaces:
    async def test_parallel_refreshes_of_one_token_yield_at_most_one_pair(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        data = (await login(clients(), tenant, user.email)).json()["data"]
        client = clients()
        body = {"refresh_token": data["refresh_token"]}
        responses = await asyncio.gather(
            *(client.post("/api/v1/auth/refresh", json=body) for _ in range(6))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) <= 1
        assert all(s in (200, 401) for s in statuses)
        codes = {r.json()["error"]["code"] for r in responses if r.status_code == 401}
        assert codes <= {"REFRESH_TOKEN_REUSED", "INVALID_REFRESH_TOKEN"}
        assert "REFRESH_TOKEN_REUSED" in codes

    async def test_parallel_wrong_codes_spend_at_most_the_allowed_attempts(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        phone = new_phone()
        client = clients()
        await client.post(
            "/api/v1/auth/otp/request", json={"phone": phone}, headers=tenant_headers(tenant)
        )
        code = await sent_code(db, phone)
        wrong = f"{(int(code) + 7) % 10**6:06d}"
        body = {"phone": phone, "code": wrong, "device_id": "d"}
        responses = await asyncio.gather(
            *(
                client.post("/api/v1/auth/otp/verify", json=body, headers=tenant_headers(tenant))
                for _ in range(8)
            )
        )
        codes = [r.json()["error"]["code"] for r in responses]
        assert codes.count("OTP_INVALID") == 2
        assert codes.count("OTP_ATTEMPTS_EXCEEDED") == 6
        async with db.session(system=True) as s:
            attempts = await s.scalar(
                select(OtpChallenge.attempts).where(OtpChallenge.destination == phone)
            )
        assert attempts == 3
        right = await client.post(
            "/api/v1/auth/otp/verify",
            json={**body, "code": code},
            headers=tenant_headers(tenant),
        )
        assert right.json()["error"]["code"] == "OTP_ATTEMPTS_EXCEEDED"
