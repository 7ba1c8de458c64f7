"""Child accounts: parents create them; children sign in with a PIN inside their family."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import select

from ludus.core.audit.models import AuditEvent
from ludus.core.auth.models import ChildProfile, Membership, Role
from ludus.core.kit.db import Database
from ludus.core.tenancy.models import Tenant, TenantKind
from tests.core.auth.conftest import ClientFactory, bearer, login, password_user, tenant_headers
from tests.factories import make_actor, make_tenant


async def _parent(clients: ClientFactory, db: Database, tenant: Tenant) -> Any:
    parent = await password_user(db, tenant, Role.parent)
    data = (await login(clients(), tenant, parent.email)).json()["data"]
    return parent, bearer(data["access_token"])


async def _add_child(client: AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    payload = {"display_name": "Zawadi", "birthdate": "2016-02-10", "pin": "4821", **body}
    return await client.post("/api/v1/auth/children", json=payload, headers=headers)


async def _child_login(client: AsyncClient, tenant: Tenant, **body: Any) -> Any:
    payload = {"device_id": "kid-tablet", **body}
    return await client.post(
        "/api/v1/auth/child/login", json=payload, headers=tenant_headers(tenant)
    )


class TestCreateChildren:
    async def test_parent_creates_children_in_one_family(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db, kind=TenantKind.family_app)
        parent, headers = await _parent(clients, db, tenant)
        client = clients()
        first = await _add_child(client, headers)
        assert first.status_code == 201, first.text
        child = first.json()["data"]
        assert child["username"] == "zawadi" and len(child["family_code"]) == 8
        second = (await _add_child(client, headers, display_name="Zawadi")).json()["data"]
        assert second["username"] == "zawadi2"
        assert second["family_code"] == child["family_code"]
        family = (await client.get("/api/v1/auth/children", headers=headers)).json()["data"]
        assert family["code"] == child["family_code"]
        assert [c["username"] for c in family["children"]] == ["zawadi", "zawadi2"]
        async with db.session(system=True) as s:
            membership = await s.scalar(select(Membership).where(Membership.user_id == child["id"]))
            profile = await s.scalar(
                select(ChildProfile).where(ChildProfile.user_id == child["id"])
            )
            audited = await s.scalar(
                select(AuditEvent.action).where(
                    AuditEvent.action == "auth.child_created", AuditEvent.target_id == child["id"]
                )
            )
        assert membership is not None and membership.role == Role.child
        assert profile is not None and profile.parent_user_id == parent.id
        assert profile.pin_hash.startswith("$argon2id$") and "4821" not in profile.pin_hash
        assert audited == "auth.child_created"

    async def test_username_clash_and_bad_pin(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        _, headers = await _parent(clients, db, tenant)
        client = clients()
        assert (await _add_child(client, headers, username="Star")).status_code == 201
        clash = await _add_child(client, headers, username="star")
        assert clash.status_code == 409
        assert clash.json()["error"]["code"] == "CHILD_USERNAME_TAKEN"
        for pin in ("12", "1234567", "12a4"):
            assert (await _add_child(client, headers, pin=pin)).status_code == 422

    async def test_only_parents_create_children(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        member = await make_actor(db, tenant, Role.member)
        resp = await _add_child(clients(), member.headers)
        assert resp.status_code == 403


class TestChildPinLogin:
    async def test_pin_login_with_family_code_or_parent_email(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db, kind=TenantKind.family_app)
        parent, headers = await _parent(clients, db, tenant)
        child = (await _add_child(clients(), headers)).json()["data"]
        by_code = await _child_login(
            clients(),
            tenant,
            family_code=child["family_code"].lower(),
            username="zawadi",
            pin="4821",
        )
        assert by_code.status_code == 200, by_code.text
        data = by_code.json()["data"]
        assert data["role"] == "child" and data["user_id"] == child["id"]
        me = await clients().get("/api/v1/me", headers=bearer(data["access_token"]))
        assert me.json()["data"]["role"] == "child"
        by_email = await _child_login(
            clients(), tenant, parent_email=parent.email, child_id=child["id"], pin="4821"
        )
        assert by_email.status_code == 200

    async def test_login_is_scoped_to_the_family(
        self, clients: ClientFactory, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        _, headers_a = await _parent(clients, db, tenant)
        _, headers_b = await _parent(clients, db, tenant)
        kid_a = (await _add_child(clients(), headers_a, username="sam", pin="1111")).json()["data"]
        kid_b = (await _add_child(clients(), headers_b, username="sam", pin="2222")).json()["data"]
        assert kid_a["family_code"] != kid_b["family_code"]
        # Family A's code with family B's PIN (same username) fails; each works in its family.
        cross = await _child_login(
            clients(), tenant, family_code=kid_a["family_code"], username="sam", pin="2222"
        )
        assert cross.status_code == 401
        assert cross.json()["error"]["code"] == "INVALID_CREDENTIALS"
        by_id = await _child_login(
            clients(), tenant, family_code=kid_a["family_code"], child_id=kid_b["id"], pin="2222"
        )
        assert by_id.status_code == 401
        ok_b = await _child_login(
            clients(), tenant, family_code=kid_b["family_code"], username="sam", pin="2222"
        )
        assert ok_b.json()["data"]["user_id"] == kid_b["id"]
        # Another tenant does not know the family at all.
        other = await make_tenant(db)
        resp = await _child_login(
            clients(), other, family_code=kid_b["family_code"], username="sam", pin="2222"
        )
        assert resp.status_code == 401

    async def test_pin_lockout_and_parent_reset(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        _, headers = await _parent(clients, db, tenant)
        kid = (await _add_child(clients(), headers, username="leo", pin="9876")).json()["data"]
        body = {"family_code": kid["family_code"], "username": "leo"}
        for n in range(4):
            resp = await _child_login(clients(), tenant, **body, pin=f"000{n}")
            assert resp.status_code == 401
        fifth = await _child_login(clients(), tenant, **body, pin="0004")
        assert fifth.status_code == 423 and fifth.json()["error"]["code"] == "ACCOUNT_LOCKED"
        assert (await _child_login(clients(), tenant, **body, pin="9876")).status_code == 423
        reset = await clients().put(
            f"/api/v1/auth/children/{kid['id']}/pin", json={"pin": "5555"}, headers=headers
        )
        assert reset.status_code == 204
        assert (await _child_login(clients(), tenant, **body, pin="5555")).status_code == 200

    async def test_needs_family_and_child(self, clients: ClientFactory, db: Database) -> None:
        tenant = await make_tenant(db)
        resp = await _child_login(clients(), tenant, username="leo", pin="1234")
        assert resp.status_code == 422
