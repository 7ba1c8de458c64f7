"""Redis leaderboard: one sorted set per board and period, all members at score 0 so Redis
orders them by their byte string, which encodes (score desc, reached_at asc, member id):

    <OFFSET - score, 16 digits><reached_at µs since epoch, 20 digits><member uuid>

A hash maps member id → its current key, so an update swaps the old key for the new one in
one Lua script (atomic). Rank of me is HGET + ZRANK, O(log n).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from ludus.engagement.leaderboards.base import MAX_SCORE, Entry, Mode, from_micros, micros

OFFSET = MAX_SCORE
_SUBMIT = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
local mode = ARGV[2]
local score = tonumber(ARGV[3])
if old then
  local oldscore = 4000000000000000 - tonumber(string.sub(old, 1, 16))
  if mode == 'add' then
    score = oldscore + score
  elseif mode == 'max' and score <= oldscore then
    return oldscore
  end
  if score == oldscore then
    return oldscore
  end
  redis.call('ZREM', KEYS[1], old)
end
local key = string.format('%016d', 4000000000000000 - score) .. ARGV[4] .. ARGV[1]
redis.call('ZADD', KEYS[1], 0, key)
redis.call('HSET', KEYS[2], ARGV[1], key)
return score
"""


def encode(member_id: uuid.UUID, score: int, at: datetime) -> str:
    return f"{OFFSET - score:016d}{micros(at):020d}{member_id}"


def decode(key: str | bytes, rank: int = 0) -> Entry:
    raw = key.decode() if isinstance(key, bytes) else key
    return Entry(
        member_id=uuid.UUID(raw[36:]),
        score=OFFSET - int(raw[:16]),
        reached_at=from_micros(int(raw[16:36])),
        rank=rank,
    )


class RedisBackend:
    def __init__(self, client: Redis, prefix: str = "ludus:") -> None:
        self.client: Any = client  # redis-py types its commands as sync-or-async
        self.prefix = prefix
        self._script: Any = client.register_script(_SUBMIT)

    def _keys(self, tenant_id: uuid.UUID, board: str, period: str) -> tuple[str, str]:
        base = f"{self.prefix}lb:{tenant_id}:{board}:{period}"
        return base + ":z", base + ":h"

    async def submit(
        self,
        tenant_id: uuid.UUID,
        board: str,
        period: str,
        member_id: uuid.UUID,
        score: int,
        at: datetime,
        mode: Mode = "set",
    ) -> int:
        z, h = self._keys(tenant_id, board, period)
        result = await self._script(
            keys=[z, h], args=[str(member_id), mode, score, f"{micros(at):020d}"]
        )
        return int(result)

    async def bulk_load(
        self, tenant_id: uuid.UUID, board: str, period: str, rows: Sequence[Entry]
    ) -> None:
        z, h = self._keys(tenant_id, board, period)
        for i in range(0, len(rows), 10_000):
            chunk = rows[i : i + 10_000]
            keys = {str(r.member_id): encode(r.member_id, r.score, r.reached_at) for r in chunk}
            old = await self.client.hmget(h, list(keys))
            async with self.client.pipeline(transaction=True) as pipe:
                stale = [o for o in old if o is not None]
                if stale:
                    pipe.zrem(z, *stale)
                pipe.zadd(z, dict.fromkeys(keys.values(), 0))
                pipe.hset(h, mapping=keys)
                await pipe.execute()

    async def rank_of(
        self, tenant_id: uuid.UUID, board: str, period: str, member_id: uuid.UUID
    ) -> Entry | None:
        z, h = self._keys(tenant_id, board, period)
        key = await self.client.hget(h, str(member_id))
        if key is None:
            return None
        index = await self.client.zrank(z, key)
        if index is None:
            return None
        return decode(key, int(index) + 1)

    async def top(
        self, tenant_id: uuid.UUID, board: str, period: str, offset: int, limit: int
    ) -> list[Entry]:
        z, _ = self._keys(tenant_id, board, period)
        keys = await self.client.zrange(z, offset, offset + limit - 1)
        return [decode(k, offset + i) for i, k in enumerate(keys, 1)]

    async def around(
        self, tenant_id: uuid.UUID, board: str, period: str, member_id: uuid.UUID, radius: int
    ) -> list[Entry]:
        me = await self.rank_of(tenant_id, board, period, member_id)
        if me is None:
            return []
        start = max(me.rank - 1 - radius, 0)
        z, _ = self._keys(tenant_id, board, period)
        keys = await self.client.zrange(z, start, me.rank - 1 + radius)
        return [decode(k, start + i) for i, k in enumerate(keys, 1)]

    async def count(self, tenant_id: uuid.UUID, board: str, period: str) -> int:
        z, _ = self._keys(tenant_id, board, period)
        return int(await self.client.zcard(z))

    async def entries_for(
        self, tenant_id: uuid.UUID, board: str, period: str, members: Sequence[uuid.UUID]
    ) -> list[Entry]:
        if not members:
            return []
        _, h = self._keys(tenant_id, board, period)
        keys = await self.client.hmget(h, [str(m) for m in members])
        return [decode(k) for k in keys if k is not None]

    async def drop(self, tenant_id: uuid.UUID, board: str, period: str) -> None:
        await self.client.delete(*self._keys(tenant_id, board, period))
