"""Property tests: random action sequences keep the engine's invariants."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ludus.moneylife.engine import (
    GameState,
    advance_day,
    apply_action,
    canonical_json,
    create_game,
    load_content,
    net_worth,
    state_checksum,
)

CONTENT = load_content("v1")
ASSETS = ("index", "bonds", "stocks", "crypto")
ACCOUNT_TYPES = ("savings", "checking", "credit_card", "secured_card", "brokerage", "retirement")
LOANS = (("personal_loan", 12), ("student_loan", 120), ("auto_loan", 48), ("mortgage", 360))
POLICIES = ("health", "auto", "renters", "home", "life", "disability")

step = st.tuples(
    st.sampled_from(
        [
            "resolve",
            "decline",
            "transfer",
            "pay_card",
            "cash_advance",
            "budget",
            "open",
            "loan",
            "bnpl",
            "order",
            "cancel",
            "insure",
            "claim",
            "goal",
            "overdraft",
            "skip",
            "autopay",
            "bogus",
            "difficulty",
            "advance",
            "advance",
            "advance",
            "advance",
        ]
    ),
    st.integers(0, 9),
    st.integers(-5_000, 3_000_000),
)


def _pick(items: list[Any], n: int) -> Any:
    return items[n % len(items)] if items else None


def _action(state: GameState, kind: str, n: int, amount: int) -> dict[str, Any]:
    accs = [a for a in state.accounts if a.status != "closed"]
    ids = [a.id for a in accs]
    pending = [p for p in state.pending_cards if p.status == "pending"]
    if kind in ("resolve", "decline"):
        card = _pick(pending, n)
        if card is None:
            return {"type": "resolve_card", "card_instance_id": "ci-missing", "option_id": "x"}
        options = [o.id for o in CONTENT.cards[card.card_id].options]
        option = "decline" if kind == "decline" else _pick(options, amount)
        return {"type": "resolve_card", "card_instance_id": card.id, "option_id": option}
    if kind == "transfer":
        return {"type": "transfer", "from_account": _pick(ids, n), "to_account": _pick(ids, n + 1),
                "amount": amount // 10}  # fmt: skip
    if kind in ("pay_card", "cash_advance", "autopay"):
        cards = [a.id for a in accs if a.type == "credit_card"] or ["acc-none"]
        if kind == "autopay":
            setting = ("none", "minimum", "full", "sometimes")[n % 4]
            return {"type": "set_autopay", "account_id": cards[0], "setting": setting}
        return {"type": kind, "account_id": _pick(cards, n), "amount": amount // 20}
    if kind == "budget":
        income = state.monthly_income + state.partner_income
        parts = {"housing": 0.3, "food": 0.15, "transport": 0.1, "utilities": 0.05, "savings": 0.1}
        scale = (n + 1) / 8
        return {"type": "set_budget",
                "allocations": {k: int(income * v * scale) for k, v in parts.items()}}  # fmt: skip
    if kind == "open":
        return {"type": "open_account", "account_type": _pick(list(ACCOUNT_TYPES), n)}
    if kind == "loan":
        loan_type, term = _pick(list(LOANS), n)
        principal = max(amount, 0)
        return {"type": "apply_loan", "loan_type": loan_type, "amount": principal,
                "term_months": term, "price": principal * 2, "down_payment": principal}  # fmt: skip
    if kind == "bnpl":
        return {"type": "bnpl_purchase", "amount": amount // 20, "plan": ("4x", "12m")[n % 2]}
    if kind == "order":
        inv = [a.id for a in accs if a.type in ("brokerage", "retirement")] or ["acc-none"]
        return {"type": "place_order", "account_id": _pick(inv, n), "asset": _pick(list(ASSETS), n),
                "side": ("buy", "sell")[amount % 2], "amount": abs(amount) // 50}  # fmt: skip
    if kind == "cancel":
        order = _pick(state.orders, n)
        return {"type": "cancel_order", "order_id": order.id if order else "ord-none"}
    if kind == "insure":
        return {"type": "buy_insurance", "policy_type": _pick(list(POLICIES), n)}
    if kind == "claim":
        policy, incident = _pick(state.policies, n), _pick(state.incidents, n)
        return {"type": "file_claim", "policy_id": policy.id if policy else "pol-none",
                "incident_id": incident.id if incident else "inc-none"}  # fmt: skip
    if kind == "goal":
        savings = [a.id for a in accs if a.type == "savings"] or ["acc-none"]
        return {"type": "create_goal", "account_id": savings[0], "name": "goal",
                "target": abs(amount) // 10, "deadline_day": state.day_number + n * 10}  # fmt: skip
    if kind == "overdraft":
        return {"type": "enable_overdraft"}
    if kind == "skip":
        return {"type": "skip_all_cards"}
    if kind == "difficulty":
        return {"type": "change_difficulty", "difficulty": ("easy", "normal", "hard")[n % 3]}
    return {"type": "teleport", "amount": 1.5}


def _check_invariants(state: GameState) -> None:
    text = canonical_json(state)
    assert "NaN" not in text and "Infinity" not in text

    def no_floats(value: Any) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for v in value.values():
                no_floats(v)
        elif isinstance(value, list):
            for v in value:
                no_floats(v)

    no_floats(json.loads(text))
    assert 300 <= state.chi <= 850
    assert 50 <= state.happiness <= 950
    for acc in state.accounts:
        if acc.type == "savings":
            assert acc.balance >= 0, acc
        elif acc.type == "checking":
            assert acc.balance >= -60_000, acc
        elif acc.type == "prepaid":
            assert acc.balance >= -500, acc
        elif acc.type in ("brokerage", "retirement"):
            assert all(h.value >= 1 for h in acc.holdings)
            assert acc.balance == sum(h.value for h in acc.holdings)
        else:
            assert acc.balance >= 0, acc


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    persona=st.sampled_from(["teen", "student", "young_adult", "parent"]),
    difficulty=st.sampled_from(["easy", "normal", "hard"]),
    seed=st.integers(0, 2**32),
    level=st.integers(1, 8),
    steps=st.lists(step, min_size=5, max_size=60),
)
def test_random_play_keeps_invariants(persona: str, difficulty: str, seed: int, level: int,
                                      steps: list[tuple[str, int, int]]) -> None:  # fmt: skip
    state, _ = create_game(CONTENT, persona, difficulty, "USD", seed)
    state.level = level
    for kind, n, amount in steps:
        before_worth, before_flows = net_worth(state), state.flow_total
        if kind == "advance":
            for _ in range(n * 4 + 1):
                state, _ = advance_day(state, [], CONTENT, auto=True)
        else:
            action = _action(state, kind, n, amount)
            checksum = state_checksum(state)
            new, outcome, _ = apply_action(state, action, CONTENT)
            assert state_checksum(state) == checksum  # the input is never mutated
            if outcome["status"] == "rejected":
                assert new is state
                assert outcome["code"].isupper()
            state = new
        # No money leak: recorded flows explain the whole change in net worth.
        assert net_worth(state) - before_worth == state.flow_total - before_flows
        _check_invariants(state)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), days=st.integers(1, 70))
def test_same_seed_same_state(seed: int, days: int) -> None:
    def run() -> str:
        state, _ = create_game(CONTENT, "young_adult", "normal", "EUR", seed)
        for _ in range(days):
            state, _ = advance_day(state, [], CONTENT, auto=True)
        return state_checksum(state)

    assert run() == run()
