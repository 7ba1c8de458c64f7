"""Rate limits through the `limits` library: Redis when REDIS_URL is set, else in memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse, storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.strategies import MovingWindowRateLimiter as SyncMovingWindowRateLimiter

from ludus.core.kit.errors import RateLimited
from ludus.core.kit.settings import get_settings


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        # In memory, the synchronous storage is used: its calls are plain dict work, while the
        # async memory storage hands every hit to a thread.
        self.redis = bool(redis_url)
        if redis_url:
            redis_storage = storage.storage_from_string(
                "async+" + redis_url, implementation="redispy"
            )
            self.strategy: Any = MovingWindowRateLimiter(redis_storage)
        else:
            self.strategy = SyncMovingWindowRateLimiter(storage.MemoryStorage())
        self._items: dict[str, RateLimitItem] = {}

    def _item(self, limit: str) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = parse(limit)
        return item

    async def hit(self, limit: str, *key: str) -> Decision:
        item = self._item(limit)
        if self.redis:
            allowed = await self.strategy.hit(item, *key)
            stats = await self.strategy.get_window_stats(item, *key)
        else:
            allowed = self.strategy.hit(item, *key)
            stats = self.strategy.get_window_stats(item, *key)
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
    import time

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
