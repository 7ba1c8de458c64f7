"""The live stream against a real uvicorn server on a free port."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from ludus.core.auth.models import Role
from ludus.core.kit.db import Database
from ludus.core.notifications.models import Channel
from ludus.core.notifications.service import notify
from ludus.core.tenancy.models import Tenant
from tests.core.notifications.support import key, template, tenant_with
from tests.factories import make_actor


@pytest.fixture
async def server_url(app: object) -> AsyncIterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, str, str | None]]:
    event, data, event_id = "message", "", None
    async for line in response.aiter_lines():
        if line == "":
            if data or event != "message":
                yield event, data, event_id
            event, data, event_id = "message", "", None
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line.startswith("id:"):
            event_id = line[3:].strip()


async def _notify_in_app(
    db: Database, tenant: Tenant, user_id: uuid.UUID, k: str, n: int
) -> uuid.UUID:
    async with db.session(tenant_id=tenant.id) as s:
        (message,) = await notify(
            s,
            tenant_id=tenant.id,
            user_id=user_id,
            kind="engagement.level_up",
            template_key=k,
            context={"n": n},
            channels=[Channel.in_app],
        )
    return message.id


async def _idle_in_transaction(db: Database) -> int:
    async with db.session(system=True) as s:
        return int(
            await s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
                )
            )
            or 0
        )


class TestStream:
    async def test_receives_notifications_created_after_connecting(
        self, db: Database, server_url: str
    ) -> None:
        tenant = await tenant_with(db)
        me = await make_actor(db, tenant, Role.member)
        other = await make_actor(db, tenant, Role.member)
        k = key()
        await template(db, tenant, k, Channel.in_app, "Level {{ n }}!", subject="Level up")
        async with (
            httpx.AsyncClient(base_url=server_url, timeout=10) as client,
            client.stream("GET", "/api/v1/notifications/stream", headers=me.headers) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _events(response)
            async with asyncio.timeout(10):
                assert (await anext(events))[0] == "ready"
                # The request's session is not held open while streaming.
                assert await _idle_in_transaction(db) == 0
                await _notify_in_app(db, tenant, other.user.id, k, 1)  # not mine
                created = await _notify_in_app(db, tenant, me.user.id, k, 2)
                event, data, event_id = await anext(events)
        assert event == "notification"
        assert event_id == str(created)
        payload = json.loads(data)
        assert payload["id"] == str(created)
        assert payload["body"] == "Level 2!" and payload["subject"] == "Level up"
        assert payload["read_at"] is None

    async def test_last_event_id_replays_missed_messages(
        self, db: Database, server_url: str
    ) -> None:
        tenant = await tenant_with(db)
        me = await make_actor(db, tenant, Role.member)
        k = key()
        await template(db, tenant, k, Channel.in_app, "n={{ n }}")
        seen = await _notify_in_app(db, tenant, me.user.id, k, 1)
        missed = await _notify_in_app(db, tenant, me.user.id, k, 2)
        headers = {**me.headers, "Last-Event-ID": str(seen)}
        async with (
            httpx.AsyncClient(base_url=server_url, timeout=10) as client,
            client.stream("GET", "/api/v1/notifications/stream", headers=headers) as response,
        ):
            events = _events(response)
            async with asyncio.timeout(10):
                assert (await anext(events))[0] == "ready"
                event, data, event_id = await anext(events)
        assert (event, event_id) == ("notification", str(missed))
        assert json.loads(data)["body"] == "n=2"

    async def test_browser_token_in_query_and_bad_tokens(
        self, db: Database, server_url: str
    ) -> None:
        tenant = await tenant_with(db)
        me = await make_actor(db, tenant, Role.member)
        async with httpx.AsyncClient(base_url=server_url, timeout=10) as client:
            missing = await client.get("/api/v1/notifications/stream")
            assert missing.status_code == 401
            bad = await client.get("/api/v1/notifications/stream", params={"access_token": "x.y.z"})
            assert bad.status_code == 401
            assert bad.json()["error"]["code"] == "INVALID_TOKEN"
            async with client.stream(
                "GET", "/api/v1/notifications/stream", params={"access_token": me.token}
            ) as response:
                assert response.status_code == 200
                async with asyncio.timeout(10):
                    assert (await anext(_events(response)))[0] == "ready"
