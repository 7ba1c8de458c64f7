"""Refresh-token rotation and theft detection, logout, and the devices list."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from ludus.core.audit.models import AuditEvent
from ludus.core.auth.models import AuthSession, RefreshToken
from ludus.core.kit import clock
from ludus.core.kit.crypto import hash_token
from ludus.core.kit.db import Database
from tests.core.auth.conftest import ClientFactory, bearer, login, password_user
from tests.factories import make_tenant


async def _signed_in(clients: ClientFactory, db: Database, device: str = "dev-1") -> Any:
    tenant = await make_tenant(db)
    user = await password_user(db, tenant)
    resp = await login(clients(), tenant, user.email, device_id=device)
    assert resp.status_code == 200, resp.text
    return tenant, user, resp.json()["data"]


async def _refresh(client: AsyncClient, token: str) -> Any:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


class TestRefreshRotation:
    async def test_each_use_rotates(self, clients: ClientFactory, db: Database) -> None:
        _, _, first = await _signed_in(clients, db)
        client = clients()
        resp = await _refresh(client, first["refresh_token"])
        assert resp.status_code == 200, resp.text
        second = resp.json()["data"]
        assert second["refresh_token"] != first["refresh_token"]
        assert (
            await client.get("/api/v1/me", headers=bearer(second["access_token"]))
        ).status_code == 200
        third = (await _refresh(client, second["refresh_token"])).json()["data"]
        assert third["refresh_token"] not in {first["refresh_token"], second["refresh_token"]}
        async with db.session(system=True) as s:
            row = await s.scalar(
                select(RefreshToken).where(
                    RefreshToken.token_hash == hash_token(first["refresh_token"])
                )
            )
        assert row is not None and row.used_at is not None and row.replaced_by_id is not None

    async def test_stored_hashed(self, clients: ClientFactory, db: Database) -> None:
        _, user, data = await _signed_in(clients, db)
        async with db.session(system=True) as s:
            hashes = (
                await s.scalars(
                    select(RefreshToken.token_hash).where(RefreshToken.user_id == user.id)
                )
            ).all()
        assert hashes == [hash_token(data["refresh_token"])]

    async def test_reuse_revokes_the_whole_family_and_session(
        self, clients: ClientFactory, db: Database
    ) -> None:
        _, user, stolen = await _signed_in(clients, db)
        client = clients()
        legit = (await _refresh(client, stolen["refresh_token"])).json()["data"]
        # The thief replays the rotated-out token.
        replay = await _refresh(client, stolen["refresh_token"])
        assert replay.status_code == 401
        assert replay.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
        # The legitimate holder's newer token and access token are dead too.
        again = await _refresh(client, legit["refresh_token"])
        assert again.status_code == 401
        assert again.json()["error"]["code"] == "INVALID_REFRESH_TOKEN"
        me = await client.get("/api/v1/me", headers=bearer(legit["access_token"]))
        assert me.status_code == 401
        async with db.session(system=True) as s:
            live = await s.scalars(
                select(RefreshToken).where(
                    RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)
                )
            )
            assert live.all() == []
            action = await s.scalar(
                select(AuditEvent.action).where(
                    AuditEvent.actor_user_id == user.id,
                    AuditEvent.action == "auth.refresh_reuse_detected",
                )
            )
        assert action == "auth.refresh_reuse_detected"

    async def test_other_sessions_survive_a_reuse(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant, user, phone = await _signed_in(clients, db, "phone")
        laptop = (await login(clients(), tenant, user.email, device_id="laptop")).json()["data"]
        client = clients()
        await _refresh(client, phone["refresh_token"])
        assert (await _refresh(client, phone["refresh_token"])).status_code == 401
        assert (await _refresh(client, laptop["refresh_token"])).status_code == 200

    async def test_expired_and_unknown_tokens(self, clients: ClientFactory, db: Database) -> None:
        _, _, data = await _signed_in(clients, db)
        client = clients()
        unknown = await _refresh(client, "rt_" + "x" * 40)
        assert unknown.json()["error"]["code"] == "INVALID_REFRESH_TOKEN"
        clock.advance(30 * 86400 + 1)
        expired = await _refresh(client, data["refresh_token"])
        assert expired.status_code == 401
        assert expired.json()["error"]["code"] == "INVALID_REFRESH_TOKEN"


class TestLogoutAndDevices:
    async def test_logout_kills_access_and_refresh(
        self, clients: ClientFactory, db: Database
    ) -> None:
        _, _, data = await _signed_in(clients, db)
        client = clients()
        headers = bearer(data["access_token"])
        assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
        assert (await _refresh(client, data["refresh_token"])).status_code == 401

    async def test_devices_list_and_revoke(self, clients: ClientFactory, db: Database) -> None:
        tenant, user, phone = await _signed_in(clients, db, "phone")
        laptop = (
            await login(clients(), tenant, user.email, device_id="laptop", platform="web")
        ).json()["data"]
        client = clients()
        resp = await client.get("/api/v1/auth/devices", headers=bearer(laptop["access_token"]))
        assert resp.status_code == 200
        devices = resp.json()["data"]["devices"]
        assert {d["device_id"] for d in devices} == {"phone", "laptop"}
        current = [d for d in devices if d["is_current"]]
        assert len(current) == 1 and current[0]["platform"] == "web"
        assert set(devices[0]) >= {"id", "platform", "last_active", "is_current"}
        phone_id = next(d["id"] for d in devices if d["device_id"] == "phone")
        resp = await client.delete(
            f"/api/v1/auth/devices/{phone_id}", headers=bearer(laptop["access_token"])
        )
        assert resp.status_code == 204
        assert (
            await client.get("/api/v1/me", headers=bearer(phone["access_token"]))
        ).status_code == 401
        assert (await _refresh(client, phone["refresh_token"])).status_code == 401
        left = (
            await client.get("/api/v1/auth/devices", headers=bearer(laptop["access_token"]))
        ).json()["data"]["devices"]
        assert [d["device_id"] for d in left] == ["laptop"]

    async def test_cannot_revoke_someone_elses_device(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant, _, mine = await _signed_in(clients, db)
        other = await password_user(db, tenant)
        theirs = (await login(clients(), tenant, other.email)).json()["data"]
        async with db.session(system=True) as s:
            their_session = await s.scalar(
                select(AuthSession.id).where(AuthSession.user_id == other.id)
            )
        resp = await clients().delete(
            f"/api/v1/auth/devices/{their_session}", headers=bearer(mine["access_token"])
        )
        assert resp.status_code == 404
        assert (
            await clients().get("/api/v1/me", headers=bearer(theirs["access_token"]))
        ).status_code == 200

    async def test_signing_in_again_on_a_device_replaces_its_session(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant, user, first = await _signed_in(clients, db, "tablet")
        await login(clients(), tenant, user.email, device_id="tablet")
        assert (
            await clients().get("/api/v1/me", headers=bearer(first["access_token"]))
        ).status_code == 401
