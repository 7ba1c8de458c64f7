"""Live public feed across server processes.

A public payment runs `pg_notify('paya_feed', …)` in its own transaction, so PostgreSQL
delivers it only if (and when) the transfer commits. Each server process keeps ONE listening
connection (started with its first subscriber) and fans notifications out to its local
subscribers' queues (SSE streams and WebSockets), filtered by tenant.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import psycopg
import structlog

from ludus.core.kit.db import get_database

CHANNEL = "paya_feed"
QUEUE_SIZE = 1000
log = structlog.get_logger("ludus.paya.feed")


def payload(tenant_id: uuid.UUID, item: dict[str, Any]) -> str:
    """The NOTIFY payload for a feed item (the sender runs `pg_notify` in its transaction)."""
    return orjson.dumps({"tenant_id": str(tenant_id), "item": item}).decode()


class FeedHub:
    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    async def _ensure_listening(self) -> None:
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.create_task(self._listen(), name="paya-feed-listener")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                url = self.url or get_database().url
                async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._ready.set()
                    delay = 0.5
                    async for note in conn.notifies():
                        self._dispatch(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: reconnect, subscribers stay
                self._ready.clear()
                log.warning("feed_listener_error", error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _dispatch(self, payload: str) -> None:
        try:
            message = orjson.loads(payload)
            queues = self._subscribers.get(message["tenant_id"], set())
            item = message["item"]
        except (ValueError, KeyError, TypeError):
            log.warning("feed_bad_payload")
            return
        for queue in list(queues):
            with contextlib.suppress(asyncio.QueueFull):  # a stuck client misses items
                queue.put_nowait(item)

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant_id: uuid.UUID) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """A queue of this tenant's feed items, live from the moment this returns."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        key = str(tenant_id)
        self._subscribers.setdefault(key, set()).add(queue)
        try:
            await self._ensure_listening()
            yield queue
        finally:
            subscribers = self._subscribers.get(key)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    self._subscribers.pop(key, None)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


_hub: FeedHub | None = None


def get_hub() -> FeedHub:
    global _hub
    if _hub is None:
        _hub = FeedHub()
    return _hub
