"""Shared helpers for engine tests."""

from __future__ import annotations

from typing import Any

from ludus.moneylife.engine import Content, GameState
from ludus.moneylife.engine.ledger import Ctx, accounts_of, make_ctx
from ludus.moneylife.engine.state import Account


def ctx_for(state: GameState, content: Content) -> Ctx:
    return make_ctx(state, content)


def first(state: GameState, kind: str) -> Account:
    found = accounts_of(state, kind)
    assert found, f"no {kind} account"
    return found[0]


def resolve_all(state: GameState, content: Content, pick: str = "cheapest") -> list[dict[str, Any]]:
    """Actions resolving every pending card (cheapest or costliest net option)."""
    actions = []
    for pending in state.pending_cards:
        if pending.status != "pending":
            continue
        card = content.cards[pending.card_id]

        def net(o: Any, p: Any = pending) -> int:
            return p.costs[o.id] - p.gains[o.id]

        option = min(card.options, key=net) if pick == "cheapest" else max(card.options, key=net)
        actions.append(
            {"type": "resolve_card", "card_instance_id": pending.id, "option_id": option.id}
        )
    return actions
