"""Org settings, member management, CSV import, and org-to-org isolation."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import select

from ludus.core.kit.db import Database
from ludus.savings import tasks
from ludus.savings.models import SavingsOrg
from tests.savings.factories import add_member, c2b, make_org, post

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class TestImport:
    async def test_bad_phones_and_duplicates_are_reported_rest_imported(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        existing = await add_member(db, org, "Existing", phone="+254711000001")
        csv = (
            "phone,name,email\n"
            "0712 345 678,Achieng,\n"  # line 2: local form, ok
            "12345,Bad Phone,\n"  # line 3: invalid
            "+254712345678,Dup Of Line 2,\n"  # line 4: duplicate in file
            f"{existing.phone},Already,\n"  # line 5: already a member
            "254733111222,Kamau,kamau@example.com\n"  # line 6: ok
            "0722000333,,\n"  # line 7: missing name
            "0722000444,Njeri,not-an-email\n"  # line 8: bad email
        )
        resp = await client.post(
            "/api/v1/savings/members/import",
            content=csv.encode(),
            headers={**org.admin.headers, "content-type": "text/csv"},
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert data["imported"] == 2
        assert sorted(m["phone"] for m in data["members"]) == ["+254712345678", "+254733111222"]
        assert [(e["line"], e["code"]) for e in data["errors"]] == [
            (3, "INVALID_PHONE"),
            (4, "DUPLICATE_IN_FILE"),
            (5, "ALREADY_MEMBER"),
            (7, "INVALID_NAME"),
            (8, "INVALID_EMAIL"),
        ]
        listed = await client.get("/api/v1/savings/members?limit=50", headers=org.admin.headers)
        assert listed.json()["pagination"]["total"] == 3

    async def test_unreadable_csv_is_a_422(self, client: AsyncClient, db: Database) -> None:
        org = await make_org(db)
        resp = await client.post(
            "/api/v1/savings/members/import",
            content=b"mobile,fullname\n1,2\n",
            headers={**org.admin.headers, "content-type": "text/csv"},
        )
        assert resp.status_code == 422
        assert resp.json()["error"]["code"] == "SAVINGS_CSV_INVALID"


class TestMembers:
    async def test_invite_normalises_phone_and_deactivate(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        resp = await client.post(
            "/api/v1/savings/members",
            json={"phone": "0798 765 432", "name": "Mutua"},
            headers=org.admin.headers,
        )
        assert resp.status_code == 201, resp.text
        member = resp.json()["data"]
        assert member["phone"] == "+254798765432" and member["account_ref"] == "254798765432"
        again = await client.post(
            "/api/v1/savings/members",
            json={"phone": "+254798765432", "name": "Mutua"},
            headers=org.admin.headers,
        )
        assert again.status_code == 409
        bad = await client.post(
            "/api/v1/savings/members", json={"phone": "999", "name": "X"}, headers=org.admin.headers
        )
        assert bad.status_code == 422
        off = await client.post(
            f"/api/v1/savings/members/{member['id']}/deactivate", headers=org.admin.headers
        )
        assert off.json()["data"]["status"] == "deactivated"
        # Money for a deactivated member waits in suspense for an admin.
        await post(client, org.url("confirmation"), c2b("RDEACT0001", 10_000, "254798765432"))
        await tasks.drain(db, org.tenant.id)
        sus = await client.get(
            "/api/v1/savings/transactions?status=suspense", headers=org.admin.headers
        )
        assert [d["receipt"] for d in sus.json()["data"]["items"]] == ["RDEACT0001"]


class TestOrgSettings:
    async def test_branding_logo_and_mpesa_secrets_never_returned(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        base = f"/api/v1/savings/organizations/{org.tenant.id}"
        r = await client.post(
            f"{base}/branding", json={"primary_color": "#112233"}, headers=org.admin.headers
        )
        assert r.json()["data"]["branding"]["primary_color"] == "#112233"
        r = await client.post(
            f"{base}/logo", files={"file": ("l.png", PNG, "image/png")}, headers=org.admin.headers
        )
        assert r.status_code == 200, r.text
        logo = await client.get(r.json()["data"]["logo_url"])
        assert logo.status_code == 200 and logo.content == PNG
        bad = await client.post(
            f"{base}/logo",
            files={"file": ("l.png", b"GIF89a", "image/png")},
            headers=org.admin.headers,
        )
        assert bad.status_code == 415
        secret = "consumer-secret-VERY-private"
        r = await client.put(
            f"{base}/mpesa",
            json={"shortcode": "600999", "consumer_key": "key-12345678", "consumer_secret": secret,
                  "passkey": "passkey-123456"},
            headers=org.admin.headers,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert secret not in r.text and r.json()["data"]["mpesa"]["configured"] is True
        got = await client.get(base, headers=org.admin.headers)
        assert secret not in got.text
        async with db.session(tenant_id=org.tenant.id) as s:
            row = (await s.execute(select(SavingsOrg))).scalars().one()
            assert row.mpesa_config_enc and secret not in row.mpesa_config_enc
        r = await client.patch(
            base, json={"subscription_status": "active"}, headers=org.admin.headers
        )
        assert r.status_code == 403
        r = await client.patch(base, json={"subscription_tier": "pro"}, headers=org.admin.headers)
        assert r.json()["data"]["subscription_tier"] == "pro"
        audit = await client.get("/api/v1/audit/events?limit=50", headers=org.admin.headers)
        actions = {e["action"] for e in audit.json()["data"]["items"]}
        assert {"savings.branding_updated", "savings.mpesa_config_updated"} <= actions


class TestIsolation:
    async def test_org_a_admin_cannot_see_or_touch_org_b(
        self, client: AsyncClient, db: Database
    ) -> None:
        a = await make_org(db)
        b = await make_org(db)
        b_member = await add_member(db, b, "B member")
        await post(client, b.url("confirmation"), c2b("RORGB00001", 10_000, "NOPE"))
        await tasks.drain(db, b.tenant.id)
        ch = await client.post(
            "/api/v1/savings/challenges",
            json={"name": "B", "type": "fixed_amount", "target": {"amount": 10_000},
                  "start_date": "2030-01-01", "duration_days": 28},
            headers=b.admin.headers,
        )  # fmt: skip
        assert ch.status_code == 201, ch.text
        b_challenge = ch.json()["data"]["id"]
        async with db.session(tenant_id=b.tenant.id) as s:
            from ludus.savings import repository

            b_deposit = (
                await repository.list_deposits(
                    s, b.tenant.id, member_id=None, status=None, offset=0, limit=5
                )
            )[0][0].id
        h = a.admin.headers
        members = await client.get("/api/v1/savings/members", headers=h)
        assert members.json()["pagination"]["total"] == 0
        assert (
            await client.get(f"/api/v1/savings/members/{b_member.id}", headers=h)
        ).status_code == 404
        assert (
            await client.post(f"/api/v1/savings/members/{b_member.id}/deactivate", headers=h)
        ).status_code == 404
        assert (await client.get("/api/v1/savings/transactions", headers=h)).json()["pagination"][
            "total"
        ] == 0
        match = await client.post(
            f"/api/v1/savings/transactions/{b_deposit}/match",
            json={"member_id": str(b_member.id)},
            headers=h,
        )
        assert match.status_code == 404
        assert (
            await client.get(f"/api/v1/savings/challenges/{b_challenge}", headers=h)
        ).status_code == 404
        assert (
            await client.patch(
                f"/api/v1/savings/challenges/{b_challenge}", json={"status": "active"}, headers=h
            )
        ).status_code == 404
        assert (
            await client.delete(f"/api/v1/savings/challenges/{b_challenge}", headers=h)
        ).status_code == 404
        assert (
            await client.get(f"/api/v1/savings/organizations/{b.tenant.id}", headers=h)
        ).status_code == 404
        # B's callback token does not open A's door either.
        wrong = f"/api/v1/savings/mpesa/{a.tenant.slug}/{b.token}/confirmation"
        assert await post(client, wrong, c2b("RCROSS0001", 100, "X")) == 403
        # and B still sees its own
        own = await client.get(f"/api/v1/savings/members/{b_member.id}", headers=b.admin.headers)
        assert own.status_code == 200
