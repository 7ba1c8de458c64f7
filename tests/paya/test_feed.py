from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from httpx import AsyncClient

from tests.paya.helpers import OPEN_LIMITS, fund, member, paya_tenant, send
from tests.paya.servers import api_servers


@pytest.fixture(scope="module")
def two_servers(database_url: str) -> Iterator[list[str]]:
    with api_servers(2) as urls:
        yield urls


async def sse_events(
    url: str, slug: str, ready: asyncio.Event, out: list[dict[str, Any]], want: int
) -> None:
    """Collect `payment` events from one SSE stream until `want` arrived."""
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream("GET", f"{url}/api/v1/paya/feed/stream", headers={"X-Tenant": slug}) as resp,
    ):
        assert resp.status_code == 200
        event = None
        async for line in resp.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "ready":
                ready.set()
            elif line.startswith("data:") and event == "payment":
                out.append(json.loads(line.split(":", 1)[1]))
                if len(out) >= want:
                    return


class TestFeedPage:
    async def test_public_only_and_amounts_hidden_unless_configured(
        self, client: AsyncClient, db
    ) -> None:
        for show, expected_amount in ((False, None), (True, 3)):
            tenant = await paya_tenant(db, {**OPEN_LIMITS, "feed_show_amounts": show})
            alice = await member(db, client, tenant)
            bob = await member(db, client, tenant)
            await fund(db, client, alice, 10)
            names = (await client.get("/api/v1/paya/me", headers=bob.headers)).json()["data"]
            await send(client, alice, names["username"], 3, memo="tacos")
            await send(client, alice, names["username"], 4, memo="secret", public=False)
            page = await client.get("/api/v1/paya/feed", headers={"X-Tenant": tenant.slug})
            assert page.status_code == 200
            items = page.json()["data"]["items"]
            assert [i["memo"] for i in items] == ["tacos"]
            assert items[0]["amount"] == expected_amount
            assert page.json()["pagination"]["total"] == 1


class TestLiveFeedAcrossProcesses:
    async def test_public_payment_reaches_sse_clients_on_two_servers(
        self, client: AsyncClient, db, two_servers: list[str]
    ) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_live")
        await member(db, client, tenant, "bob_live")
        await fund(db, client, alice, 20)
        readies = [asyncio.Event(), asyncio.Event()]
        received: list[list[dict[str, Any]]] = [[], []]
        readers = [
            asyncio.create_task(sse_events(url, tenant.slug, readies[i], received[i], want=2))
            for i, url in enumerate(two_servers)
        ]
        # generous: a freshly started server on a loaded machine answers its first request slowly
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), timeout=60)
        first = await send(client, alice, "bob_live", 1, memo="coffee")
        hidden = await send(client, alice, "bob_live", 2, memo="private rent", public=False)
        last = await send(client, alice, "bob_live", 3, memo="lunch")
        assert {first.status_code, hidden.status_code, last.status_code} == {201}
        await asyncio.wait_for(asyncio.gather(*readers), timeout=20)
        expected = [first.json()["data"]["id"], last.json()["data"]["id"]]
        for stream in received:
            assert [item["id"] for item in stream] == expected
            assert [item["memo"] for item in stream] == ["coffee", "lunch"]
            assert all("amount" not in item for item in stream)
            assert stream[0]["sender"] == "alice_live" and stream[0]["recipient"] == "bob_live"

    async def test_websocket_endpoint(self, client: AsyncClient, db, two_servers) -> None:
        tenant = await paya_tenant(db, OPEN_LIMITS)
        alice = await member(db, client, tenant, "alice_ws")
        await member(db, client, tenant, "bob_ws")
        await fund(db, client, alice, 5)
        ws_url = two_servers[1].replace("http://", "ws://") + "/api/v1/paya/feed/ws"
        async with websockets.connect(f"{ws_url}?tenant={tenant.slug}") as socket:
            assert json.loads(await socket.recv()) == {"type": "ready"}
            await send(client, alice, "bob_ws", 1, memo="hidden", public=False)
            sent = await send(client, alice, "bob_ws", 2, memo="hello")
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
        assert message["type"] == "payment"
        assert message["data"]["id"] == sent.json()["data"]["id"]

    async def test_unknown_tenant_socket_is_closed(self, two_servers) -> None:
        ws_url = two_servers[0].replace("http://", "ws://") + "/api/v1/paya/feed/ws?tenant=nope-x"
        with pytest.raises(websockets.exceptions.WebSocketException):
            async with websockets.connect(ws_url) as socket:
                await socket.recv()
