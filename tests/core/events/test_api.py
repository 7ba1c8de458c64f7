"""Admin API and CLI for dead letters."""

from __future__ import annotations

import asyncio
import uuid

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from ludus.cli.main import app as cli_app
from ludus.core.auth.models import Role
from ludus.core.events.registry import handler
from ludus.core.events.schemas import Event
from ludus.core.events.service import emit
from ludus.core.jobs.runner import run_pending
from ludus.core.kit.db import Database
from tests.factories import make_actor, make_tenant

fixed: set[uuid.UUID] = set()
ran: list[uuid.UUID] = []


@handler("test_api.sometimes", name="tests.api.sometimes")
async def sometimes(session: AsyncSession, event: Event) -> None:
    if event.event_id not in fixed:
        raise RuntimeError("not yet")
    ran.append(event.event_id)


async def _dead_event(db: Database, tenant_id: uuid.UUID) -> uuid.UUID:
    async with db.session(tenant_id=tenant_id) as s:
        event_id = await emit(
            s, event_type="test_api.sometimes", tenant_id=tenant_id, data={}, source="tests"
        )
    await run_pending(db)
    return event_id


class TestDeadLetterApi:
    async def test_list_and_replay(self, client: AsyncClient, db: Database) -> None:
        tenant = await make_tenant(db)
        admin = await make_actor(db, None, Role.system_admin)
        event_id = await _dead_event(db, tenant.id)

        resp = await client.get(
            "/api/v1/admin/events/dead-letters",
            params={"handler": "tests.api.sometimes", "tenant_id": str(tenant.id)},
            headers=admin.headers,
        )
        assert resp.status_code == 200, resp.text
        items = resp.json()["data"]["items"]
        assert [i["event_id"] for i in items] == [str(event_id)]
        assert items[0]["attempts"] == 3 and items[0]["status"] == "dead"

        fixed.add(event_id)
        replay = await client.post(
            f"/api/v1/admin/events/dead-letters/{items[0]['id']}/replay", headers=admin.headers
        )
        assert replay.status_code == 200, replay.text
        assert replay.json()["data"]["status"] == "replaying"
        again = await client.post(
            f"/api/v1/admin/events/dead-letters/{items[0]['id']}/replay", headers=admin.headers
        )
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "DEAD_LETTER_NOT_REPLAYABLE"

        await run_pending(db)
        assert ran.count(event_id) == 1
        detail = await client.get(f"/api/v1/admin/events/{event_id}", headers=admin.headers)
        assert detail.status_code == 200
        body = detail.json()["data"]
        assert body["event"]["event_type"] == "test_api.sometimes"
        assert body["event"]["metadata"]["correlation_id"]
        assert "tests.api.sometimes" in {p["handler"] for p in body["processed"]}
        assert "tests.api.sometimes" in body["handlers"]
        assert body["dead_letters"][0]["status"] == "resolved"

    async def test_tenant_admin_is_forbidden(self, client: AsyncClient, db: Database) -> None:
        tenant = await make_tenant(db)
        tenant_admin = await make_actor(db, tenant, Role.tenant_admin)
        resp = await client.get("/api/v1/admin/events/dead-letters", headers=tenant_admin.headers)
        assert resp.status_code == 403

    async def test_unknown_dead_letter_is_404(self, client: AsyncClient, db: Database) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        resp = await client.post(
            f"/api/v1/admin/events/dead-letters/{uuid.uuid4()}/replay", headers=admin.headers
        )
        assert resp.status_code == 404


class TestCli:
    async def test_dead_letters_and_replay_commands(self, db: Database) -> None:
        tenant = await make_tenant(db)
        event_id = await _dead_event(db, tenant.id)
        runner = CliRunner()

        def ludus(*args: str) -> Result:  # the CLI runs its own event loop: use a thread
            return runner.invoke(cli_app, list(args))

        listed = await asyncio.to_thread(
            ludus, "events", "dead-letters", "--handler", "tests.api.sometimes", "--limit", "500"
        )
        assert listed.exit_code == 0, listed.output
        lines = [x for x in listed.output.splitlines() if str(event_id) in x]
        assert len(lines) == 1, listed.output
        letter_id = lines[0].split()[0]
        replayed = await asyncio.to_thread(ludus, "events", "replay", letter_id)
        assert replayed.exit_code == 0, replayed.output
        assert str(event_id) in replayed.output
        twice = await asyncio.to_thread(ludus, "events", "replay", letter_id)
        assert twice.exit_code == 1 and "DEAD_LETTER_NOT_REPLAYABLE" in twice.output
