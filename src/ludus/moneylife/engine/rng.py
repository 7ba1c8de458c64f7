"""Deterministic random streams.

Every draw comes from a SplitMix64 generator seeded by hashing
"{seed}:{purpose}:{key}" with BLAKE2b, so each purpose (cards, events, market,
...) has its own stream per day or month and replays are byte-identical. Only
integer arithmetic is used, so results do not depend on the platform's libm.
The normal draw is Irwin–Hall (sum of 12 uniforms − 6), bounded at ±6 SD.
"""

from __future__ import annotations

import hashlib

_MASK = (1 << 64) - 1


class Stream:
    __slots__ = ("_s",)

    def __init__(self, seed: int, purpose: str, key: object = 0) -> None:
        text = f"{seed}:{purpose}:{key}".encode()
        self._s = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")

    def next64(self) -> int:
        self._s = s = (self._s + 0x9E3779B97F4A7C15) & _MASK
        s = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        s = ((s ^ (s >> 27)) * 0x94D049BB133111EB) & _MASK
        return s ^ (s >> 31)

    def below(self, n: int) -> int:
        """Uniform integer in [0, n)."""
        return (self.next64() * n) >> 64

    def between(self, low: int, high: int) -> int:
        """Uniform integer in [low, high]."""
        return low + self.below(high - low + 1)

    def chance_ppm(self, ppm: int) -> bool:
        return self.below(1_000_000) < ppm

    def normal_ppm(self) -> int:
        """Approximately standard normal, scaled by 1e6."""
        total = 0
        for _ in range(12):
            total += self.below(1_000_000)
        return total - 6_000_000

    def weighted_index(self, weights: list[int]) -> int:
        total = sum(weights)
        pick = self.below(total)
        for i, w in enumerate(weights):
            if pick < w:
                return i
            pick -= w
        return len(weights) - 1
