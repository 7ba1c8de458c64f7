"""Email + password: registration, strength rules, sign-in, lockout and the IP rate limit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ludus.core.audit.models import AuditEvent
from ludus.core.auth.models import Membership, Role, User
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.tenancy.models import TenantKind
from tests.core.auth.conftest import (
    PASSWORD,
    ClientFactory,
    bearer,
    login,
    password_user,
    tenant_headers,
)
from tests.factories import make_tenant, unique


def _register_body(**fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "email": f"{unique('new')}@example.com",
        "password": PASSWORD,
        "display_name": "Amina",
        "birthdate": "2001-04-05",
        "locale": "sw",
        "timezone": "Africa/Nairobi",
        "device_id": "phone-1",
        "platform": "android",
    }
    body.update(fields)
    return body


async def _audit_actions(db: Database, user_id: object) -> list[str]:
    async with db.session(system=True) as s:
        rows = await s.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_id == str(user_id))
            .order_by(AuditEvent.created_at)
        )
        return list(rows.all())


class TestRegister:
    async def test_register_returns_tokens_and_creates_membership(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        body = _register_body(email="Amina.K@Example.com", phone="+254 712 345 678")
        resp = await clients().post(
            "/api/v1/auth/register", json=body, headers=tenant_headers(tenant)
        )
        assert resp.status_code == 201, resp.text
        data = resp.json()["data"]
        assert data["token_type"] == "Bearer" and data["expires_in"] == 3600
        assert data["user"]["email"] == "amina.k@example.com"
        assert data["user"]["phone"] == "+254712345678"
        assert data["user"]["timezone"] == "Africa/Nairobi"
        assert data["role"] == "member"
        me = await clients().get("/api/v1/me", headers=bearer(data["access_token"]))
        assert me.status_code == 200
        assert me.json()["data"]["tenant_id"] == str(tenant.id)
        async with db.session(system=True) as s:
            membership = await s.scalar(
                select(Membership).where(Membership.user_id == data["user_id"])
            )
            user = await s.get(User, data["user_id"])
        assert membership is not None and membership.role == Role.member
        assert user is not None and user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash

    async def test_family_app_registrants_are_parents(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db, kind=TenantKind.family_app)
        resp = await clients().post(
            "/api/v1/auth/register", json=_register_body(), headers=tenant_headers(tenant)
        )
        assert resp.status_code == 201
        assert resp.json()["data"]["role"] == "parent"

    async def test_weak_passwords_give_reasons(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        cases = {
            "Short1!": "too_short",
            "alllowercaseletters": "single_character_class",
            "Password123!": "too_common",
            "amina.weak@example.com": "contains_email",
        }
        for password, reason in cases.items():
            body = _register_body(email="amina.weak@example.com", password=password)
            resp = await clients().post(
                "/api/v1/auth/register", json=body, headers=tenant_headers(tenant)
            )
            assert resp.status_code == 422, password
            error = resp.json()["error"]
            assert error["code"] == "WEAK_PASSWORD"
            assert reason in error["details"]["reasons"], (password, error)
        async with db.session(system=True) as s:
            assert (
                await s.scalar(select(User).where(User.email == "amina.weak@example.com")) is None
            )

    async def test_duplicate_email_conflicts(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        body = _register_body(email=user.email, password="Another-Pass-99")
        resp = await clients().post(
            "/api/v1/auth/register", json=body, headers=tenant_headers(tenant)
        )
        assert resp.status_code == 409
        assert resp.json()["error"]["code"] == "EMAIL_TAKEN"

    async def test_known_user_joins_another_tenant_with_own_password(
        self, clients: ClientFactory, db: Database
    ) -> None:
        home, other = await make_tenant(db), await make_tenant(db)
        user = await password_user(db, home)
        body = _register_body(email=user.email)
        resp = await clients().post(
            "/api/v1/auth/register", json=body, headers=tenant_headers(other)
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["data"]["user_id"] == str(user.id)

    async def test_joining_with_a_wrong_password_counts_as_a_failed_sign_in(
        self, clients: ClientFactory, db: Database
    ) -> None:
        home, other = await make_tenant(db), await make_tenant(db)
        user = await password_user(db, home)
        body = _register_body(email=user.email, password="Guessing-Pass-11")
        resp = await clients().post(
            "/api/v1/auth/register", json=body, headers=tenant_headers(other)
        )
        assert resp.status_code == 409
        async with db.session(system=True) as s:
            fresh = await s.get(User, user.id)
            joined = await s.scalar(
                select(Membership).where(
                    Membership.user_id == user.id, Membership.tenant_id == other.id
                )
            )
        assert fresh is not None and fresh.failed_logins == 1
        assert joined is None

    async def test_bad_input_is_refused(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        for bad in (
            {"timezone": "Mars/Olympus"},
            {"birthdate": "2999-01-01"},
            {"phone": "12345"},
            {"platform": "toaster"},
            {"unexpected": "field"},
        ):
            resp = await clients().post(
                "/api/v1/auth/register", json=_register_body(**bad), headers=tenant_headers(tenant)
            )
            assert resp.status_code == 422, bad
            assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
        resp = await clients().post("/api/v1/auth/register", json=_register_body())
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "TENANT_REQUIRED"


class TestLogin:
    async def test_login_and_audit(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant, Role.staff)
        resp = await login(clients(), tenant, user.email.upper())
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert data["mfa_required"] is False and data["role"] == "staff"
        assert data["refresh_token"].startswith("rt_")
        async with db.session(system=True) as s:
            actions = await s.scalars(
                select(AuditEvent.action).where(AuditEvent.actor_user_id == user.id)
            )
            assert "auth.login_succeeded" in actions.all()

    async def test_wrong_password_and_unknown_email_look_alike(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        wrong = await login(clients(), tenant, user.email, "Not-The-Password-1")
        unknown = await login(clients(), tenant, "nobody@example.com")
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["error"] == unknown.json()["error"]
        assert wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
        assert "auth.login_failed" in await _audit_actions(db, user.id)

    async def test_member_of_another_tenant_cannot_sign_in_here(
        self, clients: ClientFactory, db: Database
    ) -> None:
        home, other = await make_tenant(db), await make_tenant(db)
        user = await password_user(db, home)
        resp = await login(clients(), other, user.email)
        assert resp.status_code == 401

    async def test_system_admin_signs_in_without_tenant(
        self, clients: ClientFactory, db: Database
    ) -> None:
        admin = await password_user(db, None, Role.system_admin)
        resp = await login(clients(), None, admin.email)
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert data["role"] == "system_admin" and data["tenant_id"] is None
        tenants = await clients().get("/api/v1/admin/tenants", headers=bearer(data["access_token"]))
        assert tenants.status_code == 200
        member = await password_user(db, await make_tenant(db))
        assert (await login(clients(), None, member.email)).status_code == 401


class TestLockout:
    async def test_fifth_failure_locks_for_thirty_minutes(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        attacker = clients()
        for attempt in range(1, 5):
            resp = await login(attacker, tenant, user.email, f"Wrong-Guess-{attempt}")
            assert resp.status_code == 401, attempt
        fifth = await login(attacker, tenant, user.email, "Wrong-Guess-5")
        assert fifth.status_code == 423
        error = fifth.json()["error"]
        assert error["code"] == "ACCOUNT_LOCKED"
        locked_until = datetime.fromisoformat(error["details"]["locked_until"])
        minutes = (locked_until - clock.utcnow()).total_seconds() / 60
        assert 29.9 < minutes <= 30
        # Even the right password (from elsewhere) is refused while locked.
        resp = await login(clients(), tenant, user.email)
        assert resp.status_code == 423
        clock.advance(29 * 60)
        assert (await login(clients(), tenant, user.email)).status_code == 423
        clock.advance(61)
        resp = await login(clients(), tenant, user.email)
        assert resp.status_code == 200, resp.text
        actions = await _audit_actions(db, user.id)
        assert actions.count("auth.login_failed") == 5
        assert actions.count("auth.account_locked") == 1

    async def test_success_resets_the_failure_count(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        user = await password_user(db, tenant)
        for attempt in range(4):
            assert (
                await login(clients(), tenant, user.email, f"Bad-{attempt}-xx")
            ).status_code == 401
        assert (await login(clients(), tenant, user.email)).status_code == 200
        for attempt in range(4):
            assert (
                await login(clients(), tenant, user.email, f"Bad-{attempt}-yy")
            ).status_code == 401
        async with db.session(system=True) as s:
            fresh = await s.get(User, user.id)
        assert fresh is not None and fresh.failed_logins == 4 and fresh.locked_until is None


class TestLoginRateLimit:
    async def test_sixth_attempt_from_one_ip_within_window_is_limited(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        users = [await password_user(db, tenant) for _ in range(3)]
        same_ip = clients("192.0.2.10")
        for n in range(5):
            resp = await login(same_ip, tenant, users[n % 3].email)
            assert resp.status_code == 200, (n, resp.text)
        sixth = await login(same_ip, tenant, users[0].email)
        assert sixth.status_code == 429
        assert sixth.json()["error"]["code"] == "RATE_LIMITED"
        assert int(sixth.headers["retry-after"]) > 0
        # Another IP is unaffected.
        assert (await login(clients("192.0.2.11"), tenant, users[0].email)).status_code == 200
