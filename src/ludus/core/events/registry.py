"""Event handlers, registered per event type:

    @handler("ledger.transaction.posted", name="loyalty.award_stamp")
    async def award_stamp(session: AsyncSession, event: Event) -> None: ...

Patterns: an exact type, "prefix.*" (any type under prefix) or "*" (every event). The
name is the idempotency key with the event id, so keep it stable across releases.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.schemas import Event
from ludus.core.jobs.registry import Backoff

EVENTS_QUEUE = "events"
HandlerFunc = Callable[[AsyncSession, Event], Awaitable[None]]
# Checked by `emit` in the emitting transaction; False → no job for this handler.
Guard = Callable[[AsyncSession, str, uuid.UUID | None], Awaitable[bool]]
H = TypeVar("H", bound=HandlerFunc)


@dataclass(frozen=True)
class HandlerSpec:
    name: str
    patterns: tuple[str, ...]
    func: HandlerFunc
    retry: Backoff
    queue: str
    when: Guard | None = None

    def matches(self, event_type: str) -> bool:
        return any(match_pattern(p, event_type) for p in self.patterns)


def match_pattern(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


_handlers: dict[str, HandlerSpec] = {}
_by_type: dict[str, tuple[HandlerSpec, ...]] = {}


def handler(
    *event_types: str,
    name: str,
    max_tries: int = 3,
    base_delay_seconds: float = 10.0,
    queue: str = EVENTS_QUEUE,
    when: Guard | None = None,
) -> Callable[[H], H]:
    """Run `func(session, event)` for each matching event: at least once, effects once.

    `when(session, event_type, tenant_id)` lets a broad handler skip events it would ignore
    anyway (saving a job); it runs inside `emit`, so keep it to one indexed query."""
    if not event_types:
        raise ValueError("name at least one event type")

    def decorate(func: H) -> H:
        existing = _handlers.get(name)
        if existing is not None and existing.func is not func:
            raise ValueError(f"event handler {name!r} is already registered")
        _handlers[name] = HandlerSpec(
            name=name,
            patterns=tuple(event_types),
            func=func,
            retry=Backoff(max_tries=max_tries, base_seconds=base_delay_seconds),
            queue=queue,
            when=when,
        )
        _by_type.clear()
        return func

    return decorate


def handlers_for(event_type: str) -> tuple[HandlerSpec, ...]:
    found = _by_type.get(event_type)
    if found is None:
        found = tuple(s for s in _handlers.values() if s.matches(event_type))
        _by_type[event_type] = found
    return found


def get_handler(name: str) -> HandlerSpec | None:
    return _handlers.get(name)


def all_handlers() -> list[HandlerSpec]:
    return sorted(_handlers.values(), key=lambda s: s.name)
