"""Offline sync (spec 000 §4.7) with the §9.2 resolution rules."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from httpx import AsyncClient

from ludus.core.kit.db import Database
from tests.factories import Actor, make_actor, make_tenant
from tests.moneylife.service.helpers import create_game, scalar, summary


def queued(kind: str, payload: dict[str, Any], seq: int, **extra: Any) -> dict[str, Any]:
    ts = 1_800_000_000_000 + seq
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    checksum = hashlib.sha256(f"{kind}|{seq}|{ts}|".encode() + body).hexdigest()
    return {
        "action_type": kind,
        "payload": payload,
        "sequence_number": seq,
        "timestamp": ts,
        "checksum": checksum,
        **extra,
    }


async def _sync(client: AsyncClient, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post("/api/v1/sync", json=body, headers=actor.headers)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


async def _game_with_expired_card(
    client: AsyncClient, db: Database
) -> tuple[Actor, str, dict[str, Any], str]:
    actor = await make_actor(db, await make_tenant(db))
    game = await create_game(client, actor, persona="young_adult")
    game_id = game["game_id"]
    info = await summary(client, actor, game_id)
    card = info["pending_cards"][0]
    # Another device skips the card online: it expires with its worst outcome.
    resp = await client.post(
        f"/api/v1/game/{game_id}/actions",
        json={"action": {"type": "skip_all_cards"}, "state_version": info["state_version"]},
        headers=actor.headers,
    )
    assert resp.status_code == 200
    return actor, game_id, await summary(client, actor, game_id), card["card_instance_id"]


class TestSyncQueue:
    async def test_fifty_actions_resolve_as_spec_says_and_replay_is_idempotent(
        self, client: AsyncClient, db: Database
    ) -> None:
        actor, game_id, info, expired = await _game_with_expired_card(client, db)
        balances = {b["type"]: b for b in info["balances"]}
        checking, savings = balances["checking"], balances["savings"]
        version = info["state_version"]
        state = (await client.get(f"/api/v1/game/{game_id}", headers=actor.headers)).json()
        allocations = state["data"]["state"]["allocations"]

        def move(amount: int) -> dict[str, Any]:
            return {
                "from_account": checking["account_id"],
                "to_account": savings["account_id"],
                "amount": amount,
            }

        actions = [queued("resolve_card", {"card_instance_id": expired, "option_id": "a"}, 1)]
        actions += [queued("transfer", move(1_000), seq) for seq in range(2, 10)]
        actions += [queued("transfer", move(checking["balance"] + 50_000), 10)]
        actions += [queued("set_budget", {"allocations": allocations}, s) for s in range(11, 31)]
        actions += [
            queued("transfer", move(500), seq, state_version=max(0, version - 3))
            for seq in range(31, 36)
        ]
        actions += [queued("transfer", move(9_000_000), seq) for seq in range(36, 41)]
        duplicates = [dict(a) for a in actions[1:11]]
        queue = actions + duplicates
        assert len(queue) == 50
        body = {
            "device_id": "phone-1",
            "game_id": game_id,
            "last_known_server_sequence": version,
            "queued_actions": queue,
            "client_state_hash": None,
        }

        first = await _sync(client, actor, body)

        assert first["accepted_actions"] == list(range(2, 10)) + list(range(11, 31))
        reasons = {
            r["sequence"]: (r["reason"], r["resolution"])
            for r in first["rejected_actions"]
            if r["resolution"] != "duplicate"
        }
        assert reasons[1] == ("card_expired", "auto_skip")
        assert reasons[10] == ("insufficient_funds", "insufficient_funds")
        for seq in range(31, 36):
            assert reasons[seq] == ("stale_state", "state_refreshed")
        for seq in range(36, 41):
            assert reasons[seq] == ("insufficient_funds", "insufficient_funds")
        dup = [r for r in first["rejected_actions"] if r["resolution"] == "duplicate"]
        assert sorted(r["sequence"] for r in dup) == list(range(2, 12))
        assert len(first["rejected_actions"]) == 50 - 28
        assert first["server_sequence"] == version + 28
        accounts = {a["id"]: a for a in first["server_state"]["state"]["accounts"]}
        assert accounts[checking["account_id"]]["balance"] == checking["balance"] - 8_000
        assert accounts[savings["account_id"]]["balance"] == savings["balance"] + 8_000
        status = await scalar(
            db,
            "SELECT status FROM moneylife_pending_cards WHERE game_id = :g AND id = :i",
            g=game_id,
            i=expired,
        )
        assert status == "expired"

        txns = await scalar(
            db, "SELECT count(*) FROM moneylife_transactions WHERE game_id = :g", g=game_id
        )
        events = await scalar(
            db, "SELECT count(*) FROM event_outbox WHERE data->>'game_id' = :g", g=game_id
        )
        second = await _sync(client, actor, body)
        assert second["accepted_actions"] == []
        assert {r["resolution"] for r in second["rejected_actions"]} == {"duplicate"}
        assert len(second["rejected_actions"]) == 50
        assert second["server_sequence"] == first["server_sequence"]
        assert second["server_state"]["state_checksum"] == first["server_state"]["state_checksum"]
        assert second["state_matched"] is False
        assert (
            await scalar(
                db, "SELECT count(*) FROM moneylife_transactions WHERE game_id = :g", g=game_id
            )
            == txns
        )
        assert (
            await scalar(
                db, "SELECT count(*) FROM event_outbox WHERE data->>'game_id' = :g", g=game_id
            )
            == events
        )
        third = await _sync(
            client,
            actor,
            {
                **body,
                "queued_actions": [],
                "client_state_hash": second["server_state"]["state_checksum"],
            },
        )
        assert third["state_matched"] is True


class TestSyncConflicts:
    async def test_bad_checksum_and_divergence(self, client: AsyncClient, db: Database) -> None:
        actor, game_id, info, _ = await _game_with_expired_card(client, db)
        bad = queued("set_budget", {"allocations": {}}, 1)
        bad["checksum"] = "0" * 64
        data = await _sync(
            client,
            actor,
            {
                "device_id": "tablet",
                "game_id": game_id,
                "last_known_server_sequence": info["state_version"],
                "queued_actions": [bad],
            },
        )
        assert data["rejected_actions"][0]["reason"] == "invalid_checksum"
        assert data["server_sequence"] == info["state_version"]
        behind = max(0, info["state_version"] - 6)
        if info["state_version"] > 5:
            data = await _sync(
                client,
                actor,
                {
                    "device_id": "tablet",
                    "game_id": game_id,
                    "last_known_server_sequence": behind,
                    "queued_actions": [queued("skip_all_cards", {}, 2)],
                },
            )
            assert data["rejected_actions"][0]["resolution"] == "state_refreshed"

    async def test_same_card_on_two_devices_first_wins(
        self, client: AsyncClient, db: Database
    ) -> None:
        actor = await make_actor(db, await make_tenant(db))
        game_id = (await create_game(client, actor))["game_id"]
        info = await summary(client, actor, game_id)
        card = info["pending_cards"][0]
        option = card["options"][0]["option_id"]
        payload = {"card_instance_id": card["card_instance_id"], "option_id": option}
        base = {"game_id": game_id, "last_known_server_sequence": info["state_version"]}
        one = await _sync(
            client,
            actor,
            {**base, "device_id": "a", "queued_actions": [queued("resolve_card", payload, 1)]},
        )
        two = await _sync(
            client,
            actor,
            {**base, "device_id": "b", "queued_actions": [queued("resolve_card", payload, 7)]},
        )
        if one["accepted_actions"] == [1]:
            assert two["rejected_actions"][0]["reason"] == "already_processed"
            assert two["server_sequence"] == one["server_sequence"]
        flags = await scalar(
            db,
            "SELECT count(*) FROM moneylife_cheat_flags WHERE game_id = :g"
            " AND kind = 'duplicate_device'",
            g=game_id,
        )
        assert flags == 1
