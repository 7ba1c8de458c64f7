"""Live in-app notifications over Server-Sent Events.

One PostgreSQL connection per process LISTENs on `ludus_notifications` (started with the
first stream, stopped with the last) and fans payloads `tenant:user:message` out to the
matching streams. Each stream loads its messages in short sessions of its own: the request's
session has been committed and released when the response started.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import orjson
import psycopg
import structlog
from sse_starlette.event import ServerSentEvent

from ludus.core.kit import clock
from ludus.core.kit.db import get_database
from ludus.core.notifications import repository
from ludus.core.notifications.models import NotificationMessage
from ludus.core.notifications.schemas import InboxMessageOut
from ludus.core.notifications.service import STREAM_CHANNEL

log = structlog.get_logger("ludus.notifications")
Key = tuple[uuid.UUID, uuid.UUID]
RESYNC = "resync"  # queued to every stream after the listener reconnects


class Hub:
    def __init__(self) -> None:
        self._streams: dict[Key, set[asyncio.Queue[str]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def subscribe(self, key: Key) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        self._streams.setdefault(key, set()).add(queue)
        if self._task is None or self._task.done():
            self._listening.clear()
            self._task = asyncio.create_task(self._listen(), name="notifications-listener")
        await asyncio.wait_for(self._listening.wait(), timeout=10)
        return queue

    def unsubscribe(self, key: Key, queue: asyncio.Queue[str]) -> None:
        queues = self._streams.get(key)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._streams[key]
        if not self._streams and self._task is not None:
            self._task.cancel()
            self._task = None

    def _dispatch(self, payload: str) -> None:
        tenant, _, rest = payload.partition(":")
        user, _, message_id = rest.partition(":")
        try:
            key = (uuid.UUID(tenant), uuid.UUID(user))
        except ValueError:
            return
        for queue in self._streams.get(key, ()):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message_id)

    async def _listen(self) -> None:
        delay = 0.5
        first = True
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(get_database().url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {STREAM_CHANNEL}")
                    self._listening.set()
                    if not first:  # messages may have been missed while disconnected
                        for queues in self._streams.values():
                            for queue in queues:
                                with contextlib.suppress(asyncio.QueueFull):
                                    queue.put_nowait(RESYNC)
                    first, delay = False, 0.5
                    async for note in conn.notifies():
                        self._dispatch(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reconnect with backoff; streams stay open meanwhile
                log.warning("notification_listener_lost", error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """The hub of the running event loop (tests may run several loops in one process)."""
    loop_id = id(asyncio.get_running_loop())
    found = _hubs.get(loop_id)
    if found is None:
        found = _hubs[loop_id] = Hub()
    return found


def _event(message: object) -> ServerSentEvent:
    out = InboxMessageOut.model_validate(message)
    return ServerSentEvent(
        data=orjson.dumps(out.model_dump(mode="json")).decode(),
        event="notification",
        id=str(out.id),
    )


async def events(
    tenant_id: uuid.UUID, user_id: uuid.UUID, last_event_id: str | None
) -> AsyncIterator[ServerSentEvent]:
    key = (tenant_id, user_id)
    db = get_database()
    queue = await hub().subscribe(key)
    missed: Sequence[NotificationMessage] = ()
    try:
        cursor = clock.utcnow()
        if last_event_id:
            with contextlib.suppress(ValueError):
                async with db.session(tenant_id=tenant_id) as session:
                    seen = await repository.get_inbox_message(
                        session,
                        tenant_id=tenant_id,
                        user_id=user_id,
                        message_id=uuid.UUID(last_event_id),
                    )
                if seen is not None:
                    cursor = seen.created_at
                    async with db.session(tenant_id=tenant_id) as session:
                        missed = await repository.inbox_messages(
                            session, tenant_id=tenant_id, user_id=user_id, after=cursor
                        )
        yield ServerSentEvent(data="{}", event="ready")
        for message in missed:
            yield _event(message)
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            async with db.session(tenant_id=tenant_id) as session:
                if RESYNC in batch:  # the listener reconnected: ids may be missing
                    found = await repository.inbox_messages(
                        session, tenant_id=tenant_id, user_id=user_id, after=cursor
                    )
                else:
                    found = await repository.inbox_messages(
                        session,
                        tenant_id=tenant_id,
                        user_id=user_id,
                        ids=[uuid.UUID(i) for i in batch],
                    )
            for message in found:
                cursor = max(cursor, message.created_at)
                yield _event(message)
    finally:
        hub().unsubscribe(key, queue)
