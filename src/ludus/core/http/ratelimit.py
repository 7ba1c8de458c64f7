"""Rate limits: Redis through the `limits` library when REDIS_URL is set, else in memory."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from limits import RateLimitItem, parse, storage
from limits.aio.strategies import MovingWindowRateLimiter

from ludus.core.kit.errors import RateLimited
from ludus.core.kit.settings import get_settings


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int


class MemoryWindow:
    """Moving window in process memory: hit times per key in a deque, no threads.

    (The `limits` in-memory storages start a timer thread on nearly every hit.)
    """

    SWEEP_AT = 50_000

    def __init__(self) -> None:
        self._hits: dict[tuple[str, ...], deque[float]] = {}

    def hit(self, item: RateLimitItem, key: tuple[str, ...]) -> Decision:
        now = time.time()
        window = item.get_expiry()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.SWEEP_AT:
                self._sweep(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - window:
            hits.popleft()
        allowed = len(hits) < item.amount
        if allowed:
            hits.append(now)
        reset_at = int((hits[0] if hits else now) + window)
        return Decision(allowed, item.amount, item.amount - len(hits), reset_at)

    def _sweep(self, now: float) -> None:
        longest = 86_400.0
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - longest]:
            del self._hits[key]


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.memory: MemoryWindow | None = None
        self.strategy: MovingWindowRateLimiter | None = None
        if redis_url:
            redis_storage = storage.storage_from_string(
                "async+" + redis_url, implementation="redispy"
            )
            self.strategy = MovingWindowRateLimiter(redis_storage)
        else:
            self.memory = MemoryWindow()
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    async def hit(self, limit: str, *key: str) -> Decision:
        item = self._item(limit)
        if self.memory is not None:
            return self.memory.hit(item, (limit, *key))
        assert self.strategy is not None
        allowed = await self.strategy.hit(item, *key)
        stats = await self.strategy.get_window_stats(item, *key)
        return Decision(allowed, item.amount, stats.remaining, int(stats.reset_time))

    async def check(self, limit: str, *key: str) -> None:
        """Count one hit; raise 429 with Retry-After when over the limit."""
        decision = await self.hit(limit, *key)
        if not decision.allowed:
            raise RateLimited(
                details={"limit": decision.limit, "reset_at": decision.reset_at},
                headers={"Retry-After": str(max(1, decision.reset_at - _now()))},
            )


def _now() -> int:
    return int(time.time())


# Server-to-server callbacks (M-Pesa, Stripe, Twilio, …) are verified by signature or
# token, and arrive from a few provider IPs in bursts: the per-caller API limit skips them.
_exempt_prefixes: set[str] = set()


def exempt_prefix(prefix: str) -> None:
    """Exclude paths starting with `prefix` (e.g. a provider callback) from the API limit."""
    _exempt_prefixes.add(prefix)


def is_exempt(path: str) -> bool:
    return any(path.startswith(prefix) for prefix in _exempt_prefixes)


_limiter: RateLimiter | None = None


def get_rate_limiter() -> RateLimiter:
    global _limiter
    if _limiter is None:
        _limiter = RateLimiter(get_settings().redis_url)
    return _limiter


def set_rate_limiter(limiter: RateLimiter | None) -> None:
    global _limiter
    _limiter = limiter
