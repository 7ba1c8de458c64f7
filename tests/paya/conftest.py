from __future__ import annotations

from collections.abc import Iterator

import pytest

from ludus.paya import adapters
from ludus.paya.adapters.sandbox import SandboxDwolla, SandboxPlaid


@pytest.fixture(autouse=True)
def sandbox() -> Iterator[adapters.Providers]:
    """Fresh sandbox providers (settling at once) and closed circuit breakers per test."""
    yield adapters.use(plaid=SandboxPlaid(), dwolla=SandboxDwolla(settle_seconds=0))
    adapters.reset()
