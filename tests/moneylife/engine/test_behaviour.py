"""Behaviour of accounts, cards, chains, content and serialisation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from ludus.moneylife.engine import (
    Content,
    GameState,
    advance_day,
    apply_action,
    canonical_json,
    create_game,
    from_json,
    load_content,
    state_checksum,
)
from ludus.moneylife.engine.accounts import daily_cash
from ludus.moneylife.engine.cards import fire_chains, resolve
from ludus.moneylife.engine.creditcard import statement
from ludus.moneylife.engine.deck import eligible
from ludus.moneylife.engine.ledger import net_worth
from ludus.moneylife.engine.money import display_amount
from ludus.moneylife.engine.monthend import month_end
from ludus.moneylife.engine.state import Chain, Incident, Policy

from .helpers import ctx_for, first

NewGame = Callable[..., GameState]


class TestContent:
    def test_deck_size_and_coverage(self, content: Content) -> None:
        dealt = [c for c in content.cards.values() if not c.chain_only]
        assert len(content.cards) >= 120
        for persona in ("teen", "student", "young_adult", "parent"):
            assert sum(persona in c.personas for c in dealt) >= 40
        assert len({c.category for c in dealt}) >= 10
        assert sum(1 for c in dealt if c.seasonal) >= 10
        assert sum(1 for c in dealt for o in c.options if o.followups) >= 15

    def test_unknown_version_rejected(self) -> None:
        with pytest.raises(ValueError, match="unknown content version"):
            load_content("v999")

    def test_currency_display_uses_ppp(self, content: Content) -> None:
        jpy = content.regions["JPY"]
        assert display_amount(123_456, jpy.ppp, jpy.decimals) == Decimal("166666")
        eur = content.regions["EUR"]
        assert display_amount(10_000, eur.ppp, eur.decimals) == Decimal("92.00")


class TestActionsValidation:
    @pytest.mark.parametrize(
        ("action", "code"),
        [
            ({"type": "warp"}, "INVALID_ACTION"),
            ({"type": "transfer", "from_account": "acc-1", "to_account": "acc-2",
              "amount": 10**9}, "INVALID_AMOUNT"),
            ({"type": "transfer", "from_account": "acc-1", "to_account": "acc-2",
              "amount": 1.5}, "INVALID_ACTION"),
            ({"type": "transfer", "from_account": "acc-2", "to_account": "acc-1",
              "amount": 100}, "INSUFFICIENT_FUNDS"),
            ({"type": "resolve_card", "card_instance_id": "ci-0", "option_id": "a"},
             "CARD_NOT_FOUND"),
            ({"type": "apply_loan", "loan_type": "mortgage", "amount": 10_000_000,
              "term_months": 360, "price": 12_000_000, "down_payment": 2_000_000},
             "INSUFFICIENT_FUNDS"),
            ({"type": "enable_overdraft"}, "LOCKED"),
            ({"type": "set_budget", "allocations": {"food": 1}}, "BUDGET_INVALID"),
            ({"type": "open_account", "account_type": "crypto_wallet"}, "INVALID_ACTION"),
        ],
    )  # fmt: skip
    def test_rejections_change_nothing(self, content: Content, new_game: NewGame,
                                       action: dict[str, object], code: str) -> None:  # fmt: skip
        state = new_game("young_adult")
        checksum = state_checksum(state)
        new, outcome, _ = apply_action(state, action, content)
        assert outcome["code"] == code
        assert new is state and state_checksum(state) == checksum

    def test_accepted_action_bumps_version(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        action = {"type": "transfer", "from_account": "acc-1", "to_account": "acc-2",
                  "amount": 10_000}  # fmt: skip
        new, outcome, _ = apply_action(state, action, content)
        assert outcome["status"] == "accepted"
        assert new.state_version == state.state_version + 1
        assert first(new, "savings").balance == 10_000

    def test_manual_advance_blocked_while_cards_pending(self, content: Content,
                                                        new_game: NewGame) -> None:  # fmt: skip
        state = new_game("young_adult")
        blocked, events = advance_day(state, [], content)
        assert events[-1]["code"] == "CARDS_PENDING" and blocked.day_number == 0
        moved, _ = advance_day(state, [{"type": "skip_all_cards"}], content)
        assert moved.day_number == 1

    def test_savings_withdrawal_fee_after_six(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        first(state, "savings").balance = 100_000
        for n in range(7):
            action = {"type": "transfer", "from_account": "acc-2", "to_account": "acc-1",
                      "amount": 1_000}  # fmt: skip
            state, outcome, _ = apply_action(state, action, content)
            assert outcome["status"] == "accepted", n
            if n == 6:
                break
            state.day_counts = {}
        assert first(state, "savings").balance == 100_000 - 7_000 - 1_000

    def test_savings_balance_cap(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        first(state, "checking").balance = 10_000_000
        first(state, "savings").balance = 99_999_000
        action = {"type": "transfer", "from_account": "acc-1", "to_account": "acc-2",
                  "amount": 2_000}  # fmt: skip
        _, outcome, _ = apply_action(state, action, content)
        assert outcome["code"] == "BALANCE_CAP"


class TestCardsCycle:
    def test_statement_interest_when_revolving(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        card = first(state, "credit_card")
        card.balance, card.statement, card.paid_since_statement = 100_000, 50_000, 2_500
        card.adb_sum, card.adb_days = 100_000 * 30, 30
        statement(ctx_for(state, content))
        assert card.balance == 101_643
        assert card.min_due == 2_500 and card.due_day == state.day_number + 21

    def test_late_payment_fee_and_penalty(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        card = first(state, "credit_card")
        card.balance = card.statement = 50_000
        card.min_due, card.due_day = 2_500, 1
        state.pending_cards.clear()
        state, events = advance_day(state, [], content)
        card = first(state, "credit_card")
        assert any(e["type"] == "CARD_LATE" for e in events)
        assert card.balance == 53_500 and state.payment_history == 90

    def test_full_autopay_on_due_date(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        card = first(state, "credit_card")
        card.balance = card.statement = 30_000
        card.min_due, card.due_day, card.auto_pay = 2_500, 1, "full"
        state.pending_cards.clear()
        state, events = advance_day(state, [], content)
        assert first(state, "credit_card").balance == 0
        assert any(e["type"] == "CARD_PAID" and e["full"] for e in events)


class TestOverdraft:
    def test_fee_after_grace_and_revocation(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult", "hard")
        checking = first(state, "checking")
        checking.overdraft, checking.balance, checking.overdraft_since = True, -10_000, 0
        ctx = ctx_for(state, content)
        state.day_number = 1
        daily_cash(ctx)
        assert checking.balance == -13_500 and checking.overdraft_fee_charged
        state.day_number = 30
        daily_cash(ctx)
        assert not checking.overdraft and checking.balance == -13_500


class TestChainsAndInsurance:
    def test_startup_chain_pays_three_times(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        state.chains.append(Chain("ch-x", "DC-FIN-013", "invest", 0, 0, 0, 0, 300_000, 100_000))
        cash = first(state, "checking").balance
        fire_chains(ctx_for(state, content))
        assert first(state, "checking").balance == cash + 300_000
        assert not state.chains

    def test_emergency_card_claims_insurance(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult", seed=5)
        state.policies = [Policy("pol-h", "health", 15_000, 15_000, 50_000, 8_000)]
        state.incidents.append(Incident("inc-1", "medical_major", 300_000, 0, "health"))
        ctx = ctx_for(state, content)
        from ludus.moneylife.engine.deck import present
        from ludus.moneylife.engine.rng import Stream

        card = present(ctx, content.cards["EV-MEDICAL-MAJOR"], Stream(1, "t"), 300_000, "inc-1")
        before = net_worth(state)
        resolve(ctx, card.id, "insurance")
        claim = state.claims[-1]
        paid = before - net_worth(state)
        assert paid == (100_000 if claim.status == "paid" else 300_000)

    def test_seasonal_cards_only_in_season(self, content: Content, new_game: NewGame) -> None:
        state = new_game("parent")
        january = {c.id for c in eligible(ctx_for(state, content))}
        assert "DC-SEA-001" in january and "DC-SEA-012" not in january
        state.month = 12
        december = {c.id for c in eligible(ctx_for(state, content))}
        assert "DC-SEA-012" in december and "DC-SEA-001" not in december


class TestSerialisation:
    def test_canonical_json_round_trip(self, content: Content) -> None:
        state, _ = create_game(content, "parent", "easy", "GBP", 99)
        for _ in range(35):
            state, _ = advance_day(state, [], content, auto=True)
        text = canonical_json(state)
        assert canonical_json(from_json(text)) == text
        assert '"seed":99' in text

    def test_month_end_report_fields(self, content: Content, new_game: NewGame) -> None:
        report = month_end(ctx_for(new_game("student"), content))
        for key in ("income_total", "expense_total", "savings_change", "investment_change",
                    "debt_change", "net_worth", "chi_score", "budget_score", "xp_earned",
                    "coins_earned", "highlights"):  # fmt: skip
            assert key in report
