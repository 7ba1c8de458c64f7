"""Recently confirmed "session live, tenant active" answers, so repeated requests skip a query.

The cache only answers while this process holds a LISTEN connection on the channel that
database triggers notify when a session is revoked or a tenant's status changes (from any
process: API workers, CLI, jobs). Every notification empties the cache; a lost connection
empties and disables it until the listener is back. Entries also expire after `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict

import psycopg
import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

CHANNEL = "ludus_principal"
Key = tuple[uuid.UUID | None, uuid.UUID | None, uuid.UUID]

log = structlog.get_logger(__name__)


class PrincipalCache:
    def __init__(self, ttl: float = 30.0, size: int = 50_000) -> None:
        self.ttl = ttl
        self.size = size
        self.enabled = False
        # Bumped by every clear: an answer read before a clear must not be stored after it.
        self.generation = 0
        self._items: OrderedDict[Key, float] = OrderedDict()

    def confirmed(self, key: Key) -> bool:
        if not self.enabled:
            return False
        expires = self._items.get(key)
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._items[key]
            return False
        return True

    def confirm(self, key: Key, generation: int) -> None:
        """Remember `key` as live, if nothing was invalidated since `generation` was read."""
        if not self.enabled or generation != self.generation:
            return
        self._items[key] = time.monotonic() + self.ttl
        self._items.move_to_end(key)
        if len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self.generation += 1
        self._items.clear()

    def set_enabled(self, enabled: bool) -> None:
        self.clear()
        self.enabled = enabled


cache = PrincipalCache()
_CHANGED = "ludus.principal_changed"


def invalidate_on_commit(session: AsyncSession) -> None:
    """This transaction revokes sessions or changes a tenant's status: once it commits, this
    process forgets every confirmed principal at once (other processes hear the trigger)."""
    session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        cache.clear()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)


class PrincipalListener:
    """Keeps `cache` enabled only while LISTEN is live; clears it on every notification."""

    def __init__(self, url: str, target: PrincipalCache = cache, retry_seconds: float = 1.0):
        self.url = url
        self.target = target
        self.retry_seconds = retry_seconds
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="principal-listen")

    async def stop(self) -> None:
        self.target.set_enabled(False)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.target.set_enabled(True)
                    self.listening.set()
                    async for _ in conn.notifies():
                        self.target.clear()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: stop answering from the cache, retry
                log.warning("principal_listener_lost", error=str(exc))
            self.listening.clear()
            self.target.set_enabled(False)
            await asyncio.sleep(self.retry_seconds)
