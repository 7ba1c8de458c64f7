"""Tenant cards, anti-cheat review, partner analytics, classrooms, head-to-head, rewards."""

from __future__ import annotations

import time
import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from ludus.core.auth.models import Role
from ludus.core.jobs.runner import run_pending
from ludus.core.kit.db import Database
from ludus.engagement import coins
from ludus.engagement.models import Classroom, ClassroomMember
from ludus.moneylife.decks import base_content
from tests.factories import make_actor, make_tenant
from tests.moneylife.service.factories import make_game
from tests.moneylife.service.helpers import cheapest, create_game, scalar, summary


def sponsored_card(card_id: str) -> dict[str, Any]:
    """A card weighted to be dealt first (other cards: weight ~10 each, ~10^-5 odds)."""
    return {
        "id": card_id,
        "category": "financial",
        "title": "Bank of Test: open a savings pot",
        "description": "Your bank offers a bonus for a new savings pot.",
        "personas": ["teen", "student", "young_adult", "parent"],
        "weight": 10**8,
        "options": [
            {"id": "open", "label": "Open it", "gain": 5, "quality": "good"},
            {"id": "skip", "label": "Not now", "quality": "ok"},
        ],
    }


class TestTenantCards:
    async def test_sponsored_card_is_dealt_only_in_its_tenant_until_deactivated(
        self, client: AsyncClient, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        player = await make_actor(db, tenant)
        card_id = f"SP-{uuid.uuid4().hex[:8]}"
        resp = await client.post(
            "/api/v1/moneylife/admin/cards",
            headers=admin.headers,
            json={"definition": sponsored_card(card_id), "sponsor": "Bank"},
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["data"]["definition"]["subcategory"] == "sponsored"
        game = await create_game(client, player)
        cards = (await summary(client, player, game["game_id"]))["pending_cards"]
        assert cards[0]["card_id"] == card_id and cards[0]["sponsored"] is True

        outsider = await make_actor(db, await make_tenant(db))
        other = await create_game(client, outsider)
        assert card_id not in [
            c["card_id"]
            for c in (await summary(client, outsider, other["game_id"]))["pending_cards"]
        ]

        resp = await client.delete(
            f"/api/v1/moneylife/admin/cards/{card_id}", headers=admin.headers
        )
        assert resp.status_code == 200 and resp.json()["data"]["is_active"] is False
        again = await create_game(client, player)
        assert card_id not in [
            c["card_id"] for c in (await summary(client, player, again["game_id"]))["pending_cards"]
        ]
        # The first game still holds the card and can resolve it.
        resp = await client.post(
            f"/api/v1/game/{game['game_id']}/card-decision",
            headers=player.headers,
            json={
                "card_instance_id": cards[0]["card_instance_id"],
                "selected_option_id": "open",
                "state_version": (await summary(client, player, game["game_id"]))["state_version"],
            },
        )
        assert resp.status_code == 200, resp.text

    async def test_invalid_card_and_non_admin_are_refused(
        self, client: AsyncClient, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        bad = sponsored_card("BAD-1")
        bad["personas"] = ["martian"]
        resp = await client.post(
            "/api/v1/moneylife/admin/cards", headers=admin.headers, json={"definition": bad}
        )
        assert resp.status_code == 422
        assert resp.json()["error"]["code"] == "DECISION_CARD_INVALID"
        member = await make_actor(db, tenant)
        resp = await client.post(
            "/api/v1/moneylife/admin/cards",
            headers=member.headers,
            json={"definition": sponsored_card("X-1")},
        )
        assert resp.status_code == 403
        builtin = next(iter(base_content().cards))
        resp = await client.delete(
            f"/api/v1/moneylife/admin/cards/{builtin}", headers=admin.headers
        )
        assert resp.status_code == 200 and resp.json()["data"]["is_active"] is False


class TestAntiCheat:
    async def test_eleven_decisions_in_a_minute_are_flagged_for_review(
        self, client: AsyncClient, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        player = await make_actor(db, tenant)
        game_id = (await create_game(client, player))["game_id"]
        now_ms = int(time.time() * 1000)
        async with db.session(system=True) as s:
            await s.execute(
                text("UPDATE moneylife_games SET recent_decisions = :t WHERE id = :g"),
                {"t": [now_ms - 30_000 + i for i in range(10)], "g": uuid.UUID(game_id)},
            )
        info = await summary(client, player, game_id)
        card = info["pending_cards"][0]
        resp = await client.post(
            f"/api/v1/game/{game_id}/card-decision",
            headers=player.headers,
            json={
                "card_instance_id": card["card_instance_id"],
                "selected_option_id": cheapest(card),
                "state_version": info["state_version"],
            },
        )
        assert resp.status_code == 200, resp.text
        resp = await client.get("/api/v1/moneylife/admin/flags?status=open", headers=admin.headers)
        flags = resp.json()["data"]["items"]
        assert [f["kind"] for f in flags] == ["impossible_speed"]
        assert flags[0]["game_id"] == game_id and flags[0]["details"]["decisions"] == 11
        resp = await client.patch(
            f"/api/v1/moneylife/admin/flags/{flags[0]['id']}",
            headers=admin.headers,
            json={"status": "confirmed"},
        )
        assert resp.json()["data"]["status"] == "confirmed"
        resp = await client.get("/api/v1/moneylife/admin/flags?status=open", headers=admin.headers)
        assert resp.json()["pagination"]["total"] == 0


class TestAnalyticsAndRewards:
    async def test_partner_analytics_and_engagement_rewards(
        self, client: AsyncClient, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        admin = await make_actor(db, tenant, Role.tenant_admin)
        player = await make_actor(db, tenant)
        game_id = (await create_game(client, player))["game_id"]
        info = await summary(client, player, game_id)
        card = info["pending_cards"][0]
        resp = await client.post(
            f"/api/v1/game/{game_id}/card-decision",
            headers=player.headers,
            json={
                "card_instance_id": card["card_instance_id"],
                "selected_option_id": cheapest(card),
                "state_version": info["state_version"],
            },
        )
        decided = resp.json()["data"]["consequences"]
        await make_game(db, tenant.id, player.user.id, days=31, seed=11)

        overview = (
            await client.get("/api/v1/partner/analytics/overview", headers=admin.headers)
        ).json()["data"]
        assert overview["total_users"] == 1 and overview["dau"] == 1 and overview["mau"] == 1
        assert sum(overview["level_distribution"].values()) == 2
        eng = (
            await client.get("/api/v1/partner/analytics/engagement", headers=admin.headers)
        ).json()["data"]
        assert [d["users"] for d in eng["daily_active_users"]] == [1]
        assert set(eng["retention"]) == {"d1", "d7", "d30"}
        learning = (
            await client.get("/api/v1/partner/analytics/learning", headers=admin.headers)
        ).json()["data"]
        assert learning["budget_adherence_trend"][0]["games"] == 1
        assert learning["avg_chi_progression"][0] == {"month": 0, "avg_change": 0.0, "games": 1}
        assert any(m["kind"] == "expired" for m in learning["common_mistakes"])
        resp = await client.get("/api/v1/partner/analytics/overview", headers=player.headers)
        assert resp.status_code == 403

        await run_pending(db, queues=["events"])
        async with db.session(tenant_id=tenant.id) as s:
            profile = await s.scalar(
                text(
                    "SELECT lifetime_xp FROM engagement_profiles"
                    " WHERE user_id = :u AND product = 'moneylife'"
                ),
                {"u": player.user.id},
            )
            wallet = await coins.balance(s, tenant.id, player.user.id)
        async with db.session(system=True) as s:
            xp, earned = (
                await s.execute(
                    text(
                        "SELECT sum(xp_reported), sum(coins_reported) FROM moneylife_games"
                        " WHERE user_id = :u"
                    ),
                    {"u": player.user.id},
                )
            ).one()
        # Every game XP point and coin reached the engagement profile and the coin wallet
        # (engagement level-ups may add their own bonus on top).
        assert profile is not None and profile >= xp >= decided["xp"] > 0
        assert wallet >= earned > 0


class TestClassroomAndMatches:
    async def test_teacher_sees_members_progress(self, client: AsyncClient, db: Database) -> None:
        tenant = await make_tenant(db)
        teacher = await make_actor(db, tenant, Role.teacher)
        students = [await make_actor(db, tenant) for _ in range(2)]
        room_id = uuid.uuid4()
        async with db.session(system=True) as s:
            s.add(
                Classroom(
                    id=room_id,
                    tenant_id=tenant.id,
                    teacher_id=teacher.user.id,
                    name="7B",
                    join_code=uuid.uuid4().hex[:12],
                    config={},
                )
            )
            await s.flush()
            for st in students:
                s.add(
                    ClassroomMember(
                        id=uuid.uuid4(),
                        tenant_id=tenant.id,
                        classroom_id=room_id,
                        user_id=st.user.id,
                    )
                )
        game_id = (await create_game(client, students[0]))["game_id"]
        resp = await client.get(
            f"/api/v1/moneylife/classrooms/{room_id}/progress", headers=teacher.headers
        )
        assert resp.status_code == 200, resp.text
        rows = {r["user_id"]: r for r in resp.json()["data"]}
        assert rows[str(students[0].user.id)]["game_id"] == game_id
        assert rows[str(students[0].user.id)]["level"] == 1
        assert rows[str(students[1].user.id)]["game_id"] is None
        other = await make_actor(db, tenant, Role.teacher)
        resp = await client.get(
            f"/api/v1/moneylife/classrooms/{room_id}/progress", headers=other.headers
        )
        assert resp.status_code == 403
        resp = await client.get(
            f"/api/v1/moneylife/classrooms/{room_id}/progress", headers=students[0].headers
        )
        assert resp.status_code == 403

    async def test_head_to_head_players_get_the_same_cards(
        self, client: AsyncClient, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        a, b = await make_actor(db, tenant), await make_actor(db, tenant)
        resp = await client.post(
            "/api/v1/moneylife/matches",
            headers=a.headers,
            json={"opponent_user_id": str(b.user.id)},
        )
        assert resp.status_code == 201, resp.text
        match = resp.json()["data"]
        mine = await summary(client, a, match["your_game_id"])
        theirs = await summary(client, b, match["opponent_game_id"])
        assert [(c["card_id"], c["options"]) for c in mine["pending_cards"]] == [
            (c["card_id"], c["options"]) for c in theirs["pending_cards"]
        ]
        n = await scalar(
            db,
            "SELECT count(*) FROM engagement_challenge_participants WHERE challenge_id = :c",
            c=uuid.UUID(match["challenge_id"]),
        )
        assert n == 2
        resp = await client.post(
            "/api/v1/moneylife/matches",
            headers=a.headers,
            json={"opponent_user_id": str(a.user.id)},
        )
        assert resp.status_code == 422
