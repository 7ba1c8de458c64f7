from __future__ import annotations

from collections.abc import Callable

import pytest

from ludus.moneylife.engine import Content, GameState, create_game, load_content


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content("v1")


@pytest.fixture
def new_game(content: Content) -> Callable[..., GameState]:
    def make(persona: str = "young_adult", difficulty: str = "normal", seed: int = 11) -> GameState:
        state, _ = create_game(content, persona, difficulty, "USD", seed, f"g-{seed}")
        return state

    return make
