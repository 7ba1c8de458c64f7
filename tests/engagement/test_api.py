"""HTTP routes: envelopes, roles, idempotent redemption, social and leaderboards."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from httpx import AsyncClient

from ludus.core.auth.models import Role
from ludus.engagement.leaderboards.postgres import PostgresBackend
from ludus.engagement.leaderboards.service import submit_metric
from tests.engagement.factories import fund
from tests.factories import make_actor, make_tenant

ITEM = {
    "name": "Book voucher",
    "category": "gift_card",
    "coin_cost": 100,
    "stock": 5,
    "fulfillment_type": "instant_digital",
}


async def world(db, **tenant_fields):
    tenant = await make_tenant(db, products=["moneylife"], **tenant_fields)
    admin = await make_actor(db, tenant, Role.tenant_admin)
    member = await make_actor(db, tenant, Role.member)
    return tenant, admin, member


class TestRewards:
    async def test_balance_streak_and_refusals(self, db, client: AsyncClient) -> None:
        _, _, member = await world(db)
        resp = await client.get("/api/v1/rewards/balance", headers=member.headers)
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"] == {"coins": 0, "tier": "Newcomer", "tier_level": 1}
        resp = await client.get("/api/v1/rewards/streak", headers=member.headers)
        assert resp.json()["data"]["current"] == 0
        resp = await client.post("/api/v1/rewards/streak-shield/activate", headers=member.headers)
        assert resp.status_code == 409
        assert resp.json()["error"]["code"] == "STREAK_NOT_STARTED"
        resp = await client.get("/api/v1/rewards/achievements", headers=member.headers)
        assert resp.json()["data"]["next_tier"] == "Saver"

    async def test_redeem_idempotent_over_http(self, db, client: AsyncClient) -> None:
        tenant, admin, member = await world(db)
        resp = await client.post("/api/v1/rewards/catalog", json=ITEM, headers=member.headers)
        assert resp.status_code == 403
        resp = await client.post("/api/v1/rewards/catalog", json=ITEM, headers=admin.headers)
        assert resp.status_code == 201, resp.text
        item_id = resp.json()["data"]["id"]
        async with db.session(tenant_id=tenant.id) as s:
            await fund(s, tenant.id, member.user.id, 250)
        headers = {**member.headers, "Idempotency-Key": "redeem-1"}
        body = {"item_id": item_id}
        first = await client.post("/api/v1/rewards/redeem", json=body, headers=headers)
        second = await client.post("/api/v1/rewards/redeem", json=body, headers=headers)
        assert first.status_code == 201, first.text
        assert second.json() == first.json()
        # The same key in the body (no header) is also one redemption.
        third = await client.post(
            "/api/v1/rewards/redeem",
            json={**body, "idempotency_key": "redeem-2"},
            headers=member.headers,
        )
        fourth = await client.post(
            "/api/v1/rewards/redeem",
            json={**body, "idempotency_key": "redeem-2"},
            headers=member.headers,
        )
        assert (third.status_code, fourth.status_code) == (201, 200)
        assert third.json()["data"]["redemption_id"] == fourth.json()["data"]["redemption_id"]
        listed = await client.get("/api/v1/rewards/redemptions", headers=member.headers)
        assert listed.json()["pagination"]["total"] == 2
        balance = await client.get("/api/v1/rewards/balance", headers=member.headers)
        assert balance.json()["data"]["coins"] == 50
        broke = await client.post(
            "/api/v1/rewards/redeem",
            json={**body, "idempotency_key": "redeem-3"},
            headers=member.headers,
        )
        assert broke.status_code == 409
        assert broke.json()["error"]["code"] == "INSUFFICIENT_COINS"
        item = await client.get(f"/api/v1/rewards/catalog/{item_id}", headers=member.headers)
        assert item.json()["data"]["stock"] == 3
        bad = await client.post(
            "/api/v1/rewards/redeem", json={"item_id": "nope"}, headers=member.headers
        )
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"

    async def test_badge_definitions_need_valid_criteria(self, db, client: AsyncClient) -> None:
        _, admin, _ = await world(db)
        bad = {"code": "B1", "name": "B", "criteria": {"level": {"min": "x"}}}
        resp = await client.post(
            "/api/v1/rewards/badges/definitions", json=bad, headers=admin.headers
        )
        assert resp.json()["error"]["code"] == "BADGE_CRITERIA_INVALID"
        good = {**bad, "criteria": {"level": {"min": 2}}, "rarity": "epic"}
        resp = await client.post(
            "/api/v1/rewards/badges/definitions", json=good, headers=admin.headers
        )
        assert resp.status_code == 201, resp.text


class TestRules:
    async def test_admin_sets_product_rules(self, db, client: AsyncClient) -> None:
        _, admin, member = await world(db)
        url = "/api/v1/rewards/admin/rules?product=savings"
        body = {"streak": {"period": "weekly", "shield_cost": 10}, "coins": {"daily_cap": 50}}
        assert (await client.put(url, json=body, headers=member.headers)).status_code == 403
        resp = await client.put(url, json=body, headers=admin.headers)
        assert resp.status_code == 200, resp.text
        got = (await client.get(url, headers=admin.headers)).json()["data"]
        assert (got["streak"]["period"], got["streak"]["shield_cost"]) == ("weekly", 10)
        assert got["streak"]["insurance_cost"] == 100  # default kept
        assert got["coins"]["daily_cap"] == 50
        other = (
            await client.get("/api/v1/rewards/admin/rules?product=moneylife", headers=admin.headers)
        ).json()["data"]
        assert other["streak"]["shield_cost"] == 50
        bad = await client.put(url, json={"coins": {"daily_cap": "lots"}}, headers=admin.headers)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "VALIDATION_ERROR"


class TestSocialAndBoards:
    async def test_friends_and_friend_leaderboard(self, db, client: AsyncClient) -> None:
        tenant, _, me = await world(db)
        pal = await make_actor(db, tenant, Role.member)
        other = await make_actor(db, tenant, Role.member)
        resp = await client.post(
            "/api/v1/social/friends/request", json={"user_id": str(pal.user.id)}, headers=me.headers
        )
        assert resp.status_code == 201, resp.text
        fid = resp.json()["data"]["friendship_id"]
        again = await client.post(
            "/api/v1/social/friends/request", json={"user_id": str(me.user.id)}, headers=pal.headers
        )
        assert again.json()["error"]["code"] == "FRIEND_REQUEST_EXISTS"
        mine = await client.put(
            f"/api/v1/social/friends/{fid}", json={"action": "accept"}, headers=me.headers
        )
        assert mine.json()["error"]["code"] == "FRIEND_NOT_PENDING"  # sender cannot accept
        ok = await client.put(
            f"/api/v1/social/friends/{fid}", json={"action": "accept"}, headers=pal.headers
        )
        assert ok.status_code == 204
        friends = await client.get("/api/v1/social/friends", headers=me.headers)
        assert [f["user_id"] for f in friends.json()["data"]["friends"]] == [str(pal.user.id)]
        at = datetime.now(UTC)
        async with db.session(tenant_id=tenant.id) as s:
            for actor, xp in ((me, 50), (pal, 80), (other, 500)):
                await submit_metric(
                    PostgresBackend(s),
                    tenant_id=tenant.id,
                    metric="xp",
                    member_id=actor.user.id,
                    value=xp,
                    at=at,
                )
        board = await client.get("/api/v1/leaderboards/friends?metric=xp", headers=me.headers)
        data = board.json()["data"]
        assert [(e["user_id"], e["rank"]) for e in data["entries"]] == [
            (str(pal.user.id), 1),
            (str(me.user.id), 2),
        ]
        glob = await client.get(
            "/api/v1/leaderboards/global?period=weekly&radius=1", headers=me.headers
        )
        data = glob.json()["data"]
        assert data["me"]["rank"] == 3 and data["total"] == 3
        assert [e["rank"] for e in data["around_me"]] == [2, 3]
        code = await client.get("/api/v1/social/referral-code", headers=pal.headers)
        assert code.json()["data"]["code"].startswith("LD-")
        self_claim = await client.post(
            "/api/v1/social/referrals/claim",
            json={"code": code.json()["data"]["code"]},
            headers=pal.headers,
        )
        assert self_claim.json()["error"]["code"] == "REFERRAL_SELF"

    async def test_classroom_and_challenge_routes(self, db, client: AsyncClient) -> None:
        tenant, admin, student = await world(db)
        teacher = await make_actor(db, tenant, Role.teacher)
        room = await client.post(
            "/api/v1/social/classrooms", json={"name": "7C"}, headers=teacher.headers
        )
        assert room.status_code == 201, room.text
        code = room.json()["data"]["join_code"]
        joined = await client.post(
            "/api/v1/social/classrooms/join", json={"join_code": code}, headers=student.headers
        )
        assert joined.status_code == 200, joined.text
        wrong = await client.post(
            "/api/v1/social/classrooms/join",
            json={"join_code": "ZZZZZZZZ"},
            headers=student.headers,
        )
        assert wrong.json()["error"]["code"] == "CLASSROOM_CODE_INVALID"
        now = datetime.now(UTC)
        body = {
            "kind": "classroom",
            "product": "moneylife",
            "name": "Budget week",
            "config": {"event_types": ["moneylife.card.resolved"]},
            "classroom_id": room.json()["data"]["id"],
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=7)).isoformat(),
        }
        created = await client.post("/api/v1/challenges", json=body, headers=teacher.headers)
        assert created.status_code == 201, created.text
        cid = created.json()["data"]["id"]
        join = await client.post(f"/api/v1/challenges/{cid}/join", json={}, headers=student.headers)
        assert join.status_code == 201, join.text
        outsider = await make_actor(db, tenant, Role.member)
        refused = await client.post(
            f"/api/v1/challenges/{cid}/join", json={}, headers=outsider.headers
        )
        assert refused.json()["error"]["code"] == "CHALLENGE_NOT_ELIGIBLE"
        board = await client.get(f"/api/v1/challenges/{cid}/leaderboard", headers=admin.headers)
        assert board.status_code == 200
        listed = await client.get("/api/v1/challenges?kind=classroom", headers=student.headers)
        assert [c["id"] for c in listed.json()["data"]["items"]] == [cid]
        missing = await client.get(f"/api/v1/challenges/{uuid.uuid4()}", headers=admin.headers)
        assert missing.status_code == 404
