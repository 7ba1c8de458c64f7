"""`ludus worker` runs on the same event loop as `ludus serve` (uvloop where installed)."""

from __future__ import annotations

import asyncio

import uvloop

from ludus.cli.core import run_loop


class TestRunLoop:
    def test_runs_the_coroutine_on_uvloop(self) -> None:
        seen: list[asyncio.AbstractEventLoop] = []

        async def main() -> None:
            seen.append(asyncio.get_running_loop())

        run_loop(main())
        assert len(seen) == 1 and isinstance(seen[0], uvloop.Loop)
