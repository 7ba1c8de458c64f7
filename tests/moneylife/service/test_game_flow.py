"""The §14.2 card-decision flow over HTTP, optimistic concurrency and tenant isolation."""

from __future__ import annotations

from httpx import AsyncClient

from ludus.core.events.registry import handlers_for
from ludus.core.kit.db import Database
from tests.factories import make_actor, make_tenant
from tests.moneylife.service.helpers import (
    cheapest,
    create_game,
    handler_jobs,
    outbox,
    scalar,
    summary,
)


class TestCardDecisionFlow:
    async def test_decision_updates_game_projections_and_outbox(
        self, client: AsyncClient, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        actor = await make_actor(db, tenant)
        game = await create_game(client, actor)
        game_id = game["game_id"]
        info = await summary(client, actor, game_id)
        assert info["pending_cards"], "a new game is dealt its first card"
        card = info["pending_cards"][0]
        option = cheapest(card)
        before = info["state_version"]

        resp = await client.post(
            f"/api/v1/game/{game_id}/card-decision",
            json={
                "card_instance_id": card["card_instance_id"],
                "selected_option_id": option,
                "state_version": before,
            },
            headers=actor.headers,
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()["data"]
        assert body["state_version"] == before + 1
        cons = body["consequences"]
        assert cons["xp"] > 0 and cons["narrative"]
        cost = next(o["cost"] for o in card["options"] if o["option_id"] == option)
        spent = -sum(c["amount"] for c in cons["balance_changes"])
        gain = next(o["gain"] for o in card["options"] if o["option_id"] == option)
        assert spent == cost - gain

        after = await summary(client, actor, game_id)
        assert after["state_version"] == before + 1
        assert card["card_instance_id"] not in [
            c["card_instance_id"] for c in after["pending_cards"]
        ]
        status = await scalar(
            db,
            "SELECT status FROM moneylife_pending_cards WHERE game_id = :g AND id = :i",
            g=game_id,
            i=card["card_instance_id"],
        )
        assert status == "resolved"
        events = await outbox(db, game_id, "game.card.resolved")
        assert len(events) == 1
        assert events[0]["card_id"] == card["card_id"]
        assert events[0]["option"] == option
        assert events[0]["xp"] == cons["xp"]
        assert events[0]["user_id"] == str(actor.user.id)
        created = await outbox(db, game_id, "game.created")
        assert len(created) == 1
        jobs = await handler_jobs(db, game_id, "game.card.resolved")
        assert sorted(jobs) == sorted(h.name for h in handlers_for("game.card.resolved"))
        assert "moneylife.rewards" in jobs
        if cost > gain:
            n = await scalar(
                db,
                "SELECT count(*) FROM moneylife_transactions WHERE game_id = :g AND card_id = :c",
                g=game_id,
                c=card["card_id"],
            )
            assert n >= 1


class TestStaleState:
    async def test_stale_version_is_409_with_current_version(
        self, client: AsyncClient, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        actor = await make_actor(db, tenant)
        game_id = (await create_game(client, actor))["game_id"]
        info = await summary(client, actor, game_id)
        card = info["pending_cards"][0]
        resp = await client.post(
            f"/api/v1/game/{game_id}/card-decision",
            json={
                "card_instance_id": card["card_instance_id"],
                "selected_option_id": cheapest(card),
                "state_version": info["state_version"] + 5,
            },
            headers=actor.headers,
        )
        assert resp.status_code == 409
        err = resp.json()["error"]
        assert err["code"] == "STALE_STATE"
        assert err["details"]["current_version"] == info["state_version"]
        assert (await summary(client, actor, game_id))["state_version"] == info["state_version"]
        assert await outbox(db, game_id, "game.card.resolved") == []


class TestTenantIsolation:
    async def test_other_tenant_user_gets_404(self, client: AsyncClient, db: Database) -> None:
        owner = await make_actor(db, await make_tenant(db))
        game_id = (await create_game(client, owner))["game_id"]
        stranger = await make_actor(db, await make_tenant(db))
        for path in ("", "/summary", "/accounts", "/transactions"):
            resp = await client.get(f"/api/v1/game/{game_id}{path}", headers=stranger.headers)
            assert resp.status_code == 404, path
            assert resp.json()["error"]["code"] == "GAME_NOT_FOUND"
        resp = await client.post(
            f"/api/v1/game/{game_id}/advance-day",
            json={"current_game_date": "2027-01-01", "state_version": 0},
            headers=stranger.headers,
        )
        assert resp.status_code == 404

    async def test_same_tenant_other_user_gets_404(self, client: AsyncClient, db: Database) -> None:
        tenant = await make_tenant(db)
        owner = await make_actor(db, tenant)
        game_id = (await create_game(client, owner))["game_id"]
        other = await make_actor(db, tenant)
        resp = await client.get(f"/api/v1/game/{game_id}", headers=other.headers)
        assert resp.status_code == 404


class TestAdvanceRules:
    async def test_pending_cards_block_the_day_and_idempotency_key_replays(
        self, client: AsyncClient, db: Database
    ) -> None:
        actor = await make_actor(db, await make_tenant(db))
        game_id = (await create_game(client, actor))["game_id"]
        info = await summary(client, actor, game_id)
        body = {
            "current_game_date": info["current_game_date"],
            "state_version": info["state_version"],
        }
        resp = await client.post(
            f"/api/v1/game/{game_id}/advance-day", json=body, headers=actor.headers
        )
        assert resp.status_code == 409
        assert resp.json()["error"]["code"] == "CARDS_PENDING"

        card = info["pending_cards"][0]
        decision = {
            "card_instance_id": card["card_instance_id"],
            "selected_option_id": cheapest(card),
            "state_version": info["state_version"],
        }
        headers = {**actor.headers, "Idempotency-Key": f"k-{game_id}"}
        first = await client.post(
            f"/api/v1/game/{game_id}/card-decision", json=decision, headers=headers
        )
        again = await client.post(
            f"/api/v1/game/{game_id}/card-decision", json=decision, headers=headers
        )
        assert first.status_code == again.status_code == 200
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        assert len(await outbox(db, game_id, "game.card.resolved")) == 1
        stale = await client.post(
            f"/api/v1/game/{game_id}/card-decision", json=decision, headers=actor.headers
        )
        assert stale.status_code == 409
        assert stale.json()["error"]["code"] == "STALE_STATE"
