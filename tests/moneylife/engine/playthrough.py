"""A scripted 24-month playthrough per persona, used for golden reports.

Regenerate the goldens (only when a rule change is intended):
    .venv/bin/python -m tests.moneylife.engine.playthrough
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ludus.moneylife.engine import (
    Content,
    GameState,
    advance_day,
    create_game,
    load_content,
    state_checksum,
)
from ludus.moneylife.engine.ledger import accounts_of, cash_account

GOLDEN_DIR = Path(__file__).parent / "golden"
PERSONAS = ("teen", "student", "young_adult", "parent")
SEEDS = {"teen": 1001, "student": 2002, "young_adult": 3003, "parent": 4004}
DIFFICULTY = {"teen": "easy", "student": "normal", "young_adult": "normal", "parent": "hard"}
MONTHS = 24
_RANK = {"worst": 0, "poor": 1, "ok": 2, "good": 3, "best": 4}


def _card_actions(state: GameState, content: Content) -> list[dict[str, Any]]:
    """Pick the best-quality option, cheapest among equals."""
    actions = []
    for pending in state.pending_cards:
        if pending.status != "pending":
            continue
        card = content.cards[pending.card_id]

        def key(o: Any, p: Any = pending) -> tuple[int, int]:
            return (-_RANK[o.quality], p.costs[o.id] - p.gains[o.id])

        option = sorted(card.options, key=key)[0]
        actions.append(
            {"type": "resolve_card", "card_instance_id": pending.id, "option_id": option.id}
        )
    return actions


def _monthly_actions(state: GameState) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    cash = cash_account(state)
    savings = accounts_of(state, "savings")
    saving = (state.monthly_income + state.partner_income) // 10
    if savings and cash.balance > saving * 3:
        actions.append({"type": "transfer", "from_account": cash.id, "to_account": savings[0].id,
                        "amount": saving})  # fmt: skip
    for kind, amount in (("brokerage", 10_000), ("retirement", 20_000)):
        accounts = accounts_of(state, kind)
        if accounts and cash.balance > amount * 5:
            actions.append({"type": "place_order", "account_id": accounts[0].id, "asset": "index",
                            "side": "buy", "amount": amount})  # fmt: skip
    if state.persona == "teen" and state.level >= 3 and not accounts_of(state, "checking"):
        actions.append({"type": "open_account", "account_type": "checking"})
    return actions


def play(persona: str, months: int = MONTHS) -> tuple[GameState, dict[str, Any]]:
    content = load_content("v1")
    state, _ = create_game(content, persona, DIFFICULTY[persona], "USD", SEEDS[persona],
                           f"golden-{persona}")  # fmt: skip
    setup: list[dict[str, Any]] = [
        {"type": "set_autopay", "account_id": card.id, "setting": "full"}
        for card in accounts_of(state, "credit_card")
    ]
    reports: list[dict[str, Any]] = []
    rejected: dict[str, int] = {}
    while len(reports) < months:
        actions = setup + _card_actions(state, content)
        setup = []
        if state.day == 2:
            actions += _monthly_actions(state)
        state, events = advance_day(state, actions, content, auto=True)
        for event in events:
            if event["type"] == "MONTH_END":
                reports.append(event["report"])
            elif event["type"] == "ACTION_REJECTED":
                rejected[event["code"]] = rejected.get(event["code"], 0) + 1
    golden = {
        "persona": persona,
        "difficulty": DIFFICULTY[persona],
        "seed": SEEDS[persona],
        "reports": reports,
        "rejected_actions": dict(sorted(rejected.items())),
        "final": {
            "level": state.level,
            "total_xp": state.total_xp,
            "coins": state.coins,
            "chi": state.chi,
            "net_worth": state.net_worth,
            "day_number": state.day_number,
            "state_version": state.state_version,
        },
        "checksum": state_checksum(state),
    }
    return state, golden


def golden_path(persona: str) -> Path:
    return GOLDEN_DIR / f"{persona}_24_months.json"


def write_goldens() -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for persona in PERSONAS:
        _, golden = play(persona)
        text = json.dumps(golden, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        golden_path(persona).write_text(text, encoding="utf-8")
        print(f"wrote {golden_path(persona)}")


if __name__ == "__main__":
    write_goldens()
