"""The leaderboard backend interface and the ordering both backends share.

Order: score descending, then the earlier `reached_at` (who got there first), then member id.
Ranks are distinct (1, 2, 3, ...), so a tie is still a stable order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

Mode = Literal["set", "add", "max"]
# Scores are kept within ±MAX_SCORE so the Redis key encoding stays exact.
MAX_SCORE = 4 * 10**15
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    member_id: uuid.UUID
    score: int
    reached_at: datetime
    rank: int = 0


def order_key(e: Entry) -> tuple[int, datetime, str]:
    return (-e.score, e.reached_at, str(e.member_id))


def rank_subset(entries: Sequence[Entry]) -> list[Entry]:
    """Rank a subset (friends, classroom, team) with the same order as the full board."""
    ordered = sorted(entries, key=order_key)
    return [Entry(e.member_id, e.score, e.reached_at, i) for i, e in enumerate(ordered, 1)]


SUB_BITS = 8  # 256 buckets per power of two


def _ubucket(score: int) -> int:
    if score < 1 << SUB_BITS:
        return score
    k = score.bit_length() - 1
    return (1 << SUB_BITS) + (k - SUB_BITS) * (1 << SUB_BITS) + ((score >> (k - SUB_BITS)) & 0xFF)


def bucket(score: int) -> int:
    """Monotonic bucket of a score: exact below 256, then 256 per power of two, so any board
    has at most a few thousand buckets. Mirrored by the SQL function ludus_lb_bucket."""
    return _ubucket(score) if score >= 0 else -_ubucket(-score) - 1


def bucket_range(b: int) -> tuple[int, int]:
    """Lowest and highest score in bucket `b`."""
    if b < 0:
        lo, hi = bucket_range(-b - 1)
        return -hi, -lo
    if b < 1 << SUB_BITS:
        return b, b
    k = (b >> SUB_BITS) - 1 + SUB_BITS
    sub = b & 0xFF
    lo = (1 << k) + (sub << (k - SUB_BITS))
    return lo, lo + (1 << (k - SUB_BITS)) - 1


def micros(at: datetime) -> int:
    delta = at - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class Backend(Protocol):
    async def submit(
        self,
        tenant_id: uuid.UUID,
        board: str,
        period: str,
        member_id: uuid.UUID,
        score: int,
        at: datetime,
        mode: Mode = "set",
    ) -> int: ...

    async def bulk_load(
        self, tenant_id: uuid.UUID, board: str, period: str, rows: Sequence[Entry]
    ) -> None: ...

    async def rank_of(
        self, tenant_id: uuid.UUID, board: str, period: str, member_id: uuid.UUID
    ) -> Entry | None: ...

    async def top(
        self, tenant_id: uuid.UUID, board: str, period: str, offset: int, limit: int
    ) -> list[Entry]: ...

    async def around(
        self, tenant_id: uuid.UUID, board: str, period: str, member_id: uuid.UUID, radius: int
    ) -> list[Entry]: ...

    async def count(self, tenant_id: uuid.UUID, board: str, period: str) -> int: ...

    async def entries_for(
        self, tenant_id: uuid.UUID, board: str, period: str, members: Sequence[uuid.UUID]
    ) -> list[Entry]: ...
