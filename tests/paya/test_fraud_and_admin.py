from __future__ import annotations

import uuid

from httpx import AsyncClient

from ludus.core.auth.models import Role
from tests.paya.helpers import OPEN_LIMITS, fund, link_bank, member, paya_tenant, send


async def setup(client: AsyncClient, db, names: list[str], funded: dict[str, int]):  # type: ignore[no-untyped-def]
    tenant = await paya_tenant(db, OPEN_LIMITS)
    admin = await member(db, client, tenant, "boss", role=Role.tenant_admin)
    people = {n: await member(db, client, tenant, n) for n in names}
    for name, amount in funded.items():
        await fund(db, client, people[name], amount)
    return tenant, admin, people


_USERS: dict[str, str] = {}


class TestFraudRulesEndToEnd:
    async def test_normal_activity_raises_nothing(self, client: AsyncClient, db) -> None:
        _, admin, p = await setup(client, db, ["amy", "ben", "cal"], {"amy": 20})
        for to in ("ben", "cal", "ben"):
            assert (await send(client, p["amy"], to, 2, memo="thanks")).status_code == 201
        resp = await client.get("/api/v1/paya/admin/flags", headers=admin.headers)
        assert resp.json()["data"]["items"] == []

    async def test_each_scripted_pattern_fires_its_rule(self, client: AsyncClient, db) -> None:
        senders = [f"snd{i}" for i in range(10)]
        names = ["velo", "vic", "mule", "cya", "cyb", "cyc", "loader", "priv", *senders]
        _, admin, p = await setup(
            client,
            db,
            names,
            {"velo": 10, "cya": 5, "loader": 5, "priv": 10, **dict.fromkeys(senders, 1)},
        )
        newbie = await member(db, client, _tenant_of(admin), "fresh", age_days=1)
        for actor, name in [(a, n) for n, a in p.items()] + [(newbie, "fresh")]:
            _USERS[str(actor.user.id)] = name
        for _ in range(5):  # velocity: same recipient 5 times in an hour
            assert (await send(client, p["velo"], "vic", 1)).status_code == 201
        for s in senders:  # money mule: 10 different senders in a day
            assert (await send(client, p[s], "mule", 1)).status_code == 201
        for a, b in (("cya", "cyb"), ("cyb", "cyc"), ("cyc", "cya")):  # circular within 24 h
            assert (await send(client, p[a], b, 1)).status_code == 201
        await link_bank(client, p["loader"])  # load, then pay a brand-new account
        resp = await client.post(
            "/api/v1/paya/loads",
            json={"amount": 50},
            headers={**p["loader"].headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert resp.status_code == 202
        assert (await send(client, p["loader"], "fresh", 3)).status_code == 201
        for to in ("vic", "cya", "cyb", "cyc", "mule"):  # private only
            assert (await send(client, p["priv"], to, 1, public=False)).status_code == 201
        resp = await client.get("/api/v1/paya/admin/flags?limit=100", headers=admin.headers)
        found = {(_USERS[f["user_id"]], f["rule"]) for f in resp.json()["data"]["items"]}
        assert found == {
            ("velo", "velocity"),
            ("mule", "money_mule"),
            ("cyc", "circular"),
            ("loader", "load_then_send_new_account"),
            ("priv", "private_only"),
        }


def _tenant_of(admin):  # type: ignore[no-untyped-def]
    return admin.tenant


class TestAdminActions:
    async def test_actions_are_audited_and_adjustments_never_mint(
        self, client: AsyncClient, db
    ) -> None:
        _, admin, _p = await setup(client, db, ["zoe"], {"zoe": 30})
        base = "/api/v1/paya/admin/accounts/zoe"
        assert (
            await client.post(f"{base}/flag", json={"reason": "odd"}, headers=admin.headers)
        ).status_code == 201
        assert (
            await client.post(
                f"{base}/ineligible", json={"weeks": 2, "reason": "abuse"}, headers=admin.headers
            )
        ).status_code == 200
        debit = await client.post(
            f"{base}/adjust",
            json={"amount": -10, "reason": "dup load"},
            headers={**admin.headers, "Idempotency-Key": "adj-1"},
        )
        assert debit.status_code == 200, debit.text
        assert debit.json()["data"]["profile"]["balance"] == 20
        credit = await client.post(
            f"{base}/adjust",
            json={"amount": 4, "reason": "goodwill"},
            headers={**admin.headers, "Idempotency-Key": "adj-2"},
        )
        assert credit.json()["data"]["profile"]["balance"] == 24
        too_much = await client.post(
            f"{base}/adjust",
            json={"amount": 100, "reason": "oops"},
            headers={**admin.headers, "Idempotency-Key": "adj-3"},
        )
        assert too_much.json()["error"]["code"] == "INSUFFICIENT_FUNDS"  # ops holds only 6
        audit = await client.get("/api/v1/audit/events?limit=50", headers=admin.headers)
        actions = (
            {e["action"] for e in audit.json()["data"]["items"]}
            if audit.status_code == 200
            else set()
        )
        assert {
            "paya.account.flagged",
            "paya.account.ineligible",
            "paya.account.adjusted",
        } <= actions
        report = await client.get(
            "/api/v1/paya/admin/compliance-report",
            params={"start": "2000-01-01T00:00:00Z", "end": "2000-12-01T00:00:00Z"},
            headers=admin.headers,
        )
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
        assert report.text.splitlines()[0].startswith("record,id,at,user")

    async def test_members_cannot_use_admin_routes(self, client: AsyncClient, db) -> None:
        _, _, p = await setup(client, db, ["moe"], {})
        resp = await client.post(
            "/api/v1/paya/admin/accounts/moe/freeze",
            json={"reason": "self"},
            headers=p["moe"].headers,
        )
        assert (resp.status_code, resp.json()["error"]["code"]) == (403, "FORBIDDEN")


class TestProfiles:
    async def test_usernames_unique_case_insensitive_and_searchable(
        self, client: AsyncClient, db
    ) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        await member(db, client, tenant, "Maria_J")
        await member(db, client, tenant, "mariano")
        await member(db, client, tenant, "mariaXj")
        other = await member(db, client, tenant, "zed")
        from tests.factories import make_actor

        late = await make_actor(db, tenant)
        taken = await client.post(
            "/api/v1/paya/profile", json={"username": "@maria_j"}, headers=late.headers
        )
        assert (taken.status_code, taken.json()["error"]["code"]) == (409, "USERNAME_TAKEN")
        reserved = await client.post(
            "/api/v1/paya/profile", json={"username": "Support"}, headers=late.headers
        )
        assert reserved.json()["error"]["code"] == "USERNAME_RESERVED"
        again = await client.post(
            "/api/v1/paya/profile", json={"username": "zed2"}, headers=other.headers
        )
        assert again.json()["error"]["code"] == "PAYA_PROFILE_EXISTS"
        found = await client.get(
            "/api/v1/paya/users", params={"q": "@MARIA_"}, headers=other.headers
        )
        assert [u["username"] for u in found.json()["data"]["items"]] == ["Maria_J"]
        public = await client.get("/api/v1/paya/users/maria_j", headers={"X-Tenant": tenant.slug})
        assert public.json()["data"]["username"] == "Maria_J"
        no_profile = await client.post(
            "/api/v1/paya/transfers", json={"to": "zed", "amount": 1}, headers=late.headers
        )
        assert no_profile.json()["error"]["code"] == "PAYA_PROFILE_REQUIRED"

    async def test_other_tenants_cannot_use_paya(self, client: AsyncClient, db) -> None:
        from tests.factories import make_actor, make_tenant

        bank = await make_tenant(db)
        actor = await make_actor(db, bank)
        resp = await client.post(
            "/api/v1/paya/profile", json={"username": "someone"}, headers=actor.headers
        )
        assert (resp.status_code, resp.json()["error"]["code"]) == (403, "PAYA_NOT_ENABLED")
