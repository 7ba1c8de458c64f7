"""`ludus user create-admin` and `ludus keys rotate`."""

from __future__ import annotations

import psycopg
from typer.testing import CliRunner

from ludus.cli.main import app
from ludus.core.kit.db import Database
from tests.factories import make_tenant, unique

runner = CliRunner()


def _query(url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


class TestCreateAdmin:
    def test_system_admin(self, database_url: str) -> None:
        email = f"{unique('root')}@example.com"
        result = runner.invoke(
            app, ["user", "create-admin", "--email", email, "--password", "Sturdy-Admin-Pass-1"]
        )
        assert result.exit_code == 0, result.output
        assert "system admin" in result.output
        rows = _query(
            database_url,
            "SELECT is_system_admin, password_hash FROM users WHERE email = %s",
            email,
        )
        assert rows[0][0] is True and str(rows[0][1]).startswith("$argon2id$")

    def test_weak_password_refused(self, database_url: str) -> None:
        email = f"{unique('root')}@example.com"
        result = runner.invoke(
            app, ["user", "create-admin", "--email", email, "--password", "short"]
        )
        assert result.exit_code == 1
        assert "WEAK_PASSWORD" in result.output
        assert _query(database_url, "SELECT id FROM users WHERE email = %s", email) == []

    async def test_tenant_admin_can_sign_in(self, db: Database, clients) -> None:  # type: ignore[no-untyped-def]
        tenant = await make_tenant(db)
        email = f"{unique('boss')}@example.com"
        password = "Sturdy-Admin-Pass-2"
        import asyncio

        result = await asyncio.to_thread(
            runner.invoke,
            app,
            [
                "user",
                "create-admin",
                "--email",
                email,
                "--password",
                password,
                "--tenant",
                tenant.slug,
            ],
        )
        assert result.exit_code == 0, result.output
        resp = await clients().post(
            "/api/v1/auth/login",
            json={"email": email, "password": password, "device_id": "d"},
            headers={"X-Tenant": tenant.slug},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["role"] == "tenant_admin"


class TestRotateKeys:
    def test_rotate_adds_an_active_key_and_retires_the_old(self, database_url: str) -> None:
        before = {r[0] for r in _query(database_url, "SELECT kid FROM signing_keys")}
        result = runner.invoke(app, ["keys", "rotate"])
        assert result.exit_code == 0, result.output
        rows = _query(database_url, "SELECT kid, active, retired_at FROM signing_keys")
        new = [r for r in rows if r[0] not in before]
        assert len(new) == 1 and new[0][1] is True and new[0][0] in result.output
        assert all(r[1] is False and r[2] is not None for r in rows if r[0] in before)
