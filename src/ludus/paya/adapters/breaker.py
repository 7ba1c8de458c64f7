"""Per-provider circuit breaker: closed → open after N consecutive transient failures →
half-open after a cool-down (one trial call) → closed again on success."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ludus.paya.adapters.base import ProviderUnavailable

T = TypeVar("T")


class CircuitBreaker:
    def __init__(self, name: str, *, failures: int = 3, reset_seconds: float = 30.0) -> None:
        self.name = name
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at >= self.reset_seconds:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_running = False

    def failure(self) -> None:
        self._trial_running = False
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = time.monotonic()

    def reset(self) -> None:
        self.success()

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        if not self.allow():
            raise ProviderUnavailable(f"{self.name} circuit is open")
        try:
            result = await fn()
        except ProviderUnavailable:
            self.failure()
            raise
        except Exception:
            self.success()  # the provider answered (e.g. a 4xx refusal): it is up
            raise
        self.success()
        return result
