"""Helpers for MoneyLife service tests."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from ludus.core.kit.db import Database
from tests.factories import Actor


async def create_game(
    client: AsyncClient, actor: Actor, persona: str = "young_adult", difficulty: str = "normal"
) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/game/create",
        json={"persona": persona, "difficulty": difficulty, "currency_code": "USD"},
        headers=actor.headers,
    )
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


async def summary(client: AsyncClient, actor: Actor, game_id: str) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/game/{game_id}/summary", headers=actor.headers)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["data"]
    return data


def cheapest(card: dict[str, Any]) -> str:
    option = min(card["options"], key=lambda o: (o["cost"] - o["gain"], o["option_id"]))
    return str(option["option_id"])


async def clear_cards(client: AsyncClient, actor: Actor, game_id: str) -> int:
    """Resolve every pending card with its cheapest option; returns the state version."""
    info = await summary(client, actor, game_id)
    version: int = info["state_version"]
    for card in info["pending_cards"]:
        resp = await client.post(
            f"/api/v1/game/{game_id}/card-decision",
            json={
                "card_instance_id": card["card_instance_id"],
                "selected_option_id": cheapest(card),
                "state_version": version,
            },
            headers=actor.headers,
        )
        if resp.status_code == 200:
            version = resp.json()["data"]["state_version"]
        else:
            # Cannot afford it: skip all (worst outcomes) so the day can advance.
            resp = await client.post(
                f"/api/v1/game/{game_id}/actions",
                json={"action": {"type": "skip_all_cards"}, "state_version": version},
                headers=actor.headers,
            )
            assert resp.status_code == 200, resp.text
            return int(resp.json()["data"]["state_version"])
    return version


async def play_days(client: AsyncClient, actor: Actor, game_id: str, days: int) -> dict[str, Any]:
    for _ in range(days):
        version = await clear_cards(client, actor, game_id)
        info = await summary(client, actor, game_id)
        resp = await client.post(
            f"/api/v1/game/{game_id}/advance-day",
            json={"current_game_date": info["current_game_date"], "state_version": version},
            headers=actor.headers,
        )
        assert resp.status_code == 200, resp.text
    return await summary(client, actor, game_id)


async def outbox(db: Database, game_id: str, event_type: str) -> list[dict[str, Any]]:
    async with db.session(system=True) as s:
        rows = await s.execute(
            text(
                "SELECT data FROM event_outbox WHERE event_type = :t"
                " AND data->>'game_id' = :g ORDER BY occurred_at"
            ),
            {"t": event_type, "g": game_id},
        )
        return [dict(r[0]) for r in rows]


async def handler_jobs(db: Database, game_id: str, event_type: str) -> list[str]:
    """Handler names of the queued `events.handle` jobs for the game's events of a type."""
    async with db.session(system=True) as s:
        rows = await s.execute(
            text(
                "SELECT j.args->>'handler' FROM procrastinate_jobs j"
                " JOIN event_outbox e ON e.id::text = j.args->>'event_id'"
                " WHERE j.task_name = 'events.handle' AND e.event_type = :t"
                " AND e.data->>'game_id' = :g AND j.args->>'tenant_id' = e.tenant_id::text"
            ),
            {"t": event_type, "g": game_id},
        )
        return [r[0] for r in rows]


async def scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.session(system=True) as s:
        return await s.scalar(text(sql), params)


def new_id() -> str:
    return str(uuid.uuid4())
