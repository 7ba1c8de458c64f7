"""The rules brief's "Checks an implementation must pass", one test (or more) each."""

from __future__ import annotations

from collections.abc import Callable

from ludus.moneylife.engine import Content, GameState, advance_day, apply_action
from ludus.moneylife.engine.accounts import month_end_deposits
from ludus.moneylife.engine.bankruptcy import check as bankruptcy_check
from ludus.moneylife.engine.bankruptcy import is_bankrupt
from ludus.moneylife.engine.budget import month_score
from ludus.moneylife.engine.calendar import days_in_month, is_month_end
from ludus.moneylife.engine.credit import chi_from_parts, mix_score, utilization_score
from ludus.moneylife.engine.insurance import claim_split, renew, renewal_premium
from ludus.moneylife.engine.invest import early_withdrawal_net, quarterly_dividend
from ludus.moneylife.engine.ledger import debt_total, net_worth
from ludus.moneylife.engine.loans import loan_decision, mortgage_payment, personal_loan_apr
from ludus.moneylife.engine.money import (
    amortization_schedule,
    amortized_payment,
    apply_return,
    card_interest,
    card_minimum_payment,
    inflate_micros,
    micros_to_cents,
    savings_interest_micros,
)
from ludus.moneylife.engine.monthend import month_end
from ludus.moneylife.engine.progression import (
    TIER_COIN_BONUS_PCT,
    coin_amount,
    level_up_check,
    streak_multiplier_milli,
    tier_for_xp,
    xp_amount,
)
from ludus.moneylife.engine.redemption import RedemptionLedger, redeem, reward_price_coins
from ludus.moneylife.engine.state import Account, Holding, Policy

from .helpers import ctx_for, first

NewGame = Callable[..., GameState]


class TestLoanPayments:
    def test_check1_auto_example_payment_and_first_month_split(self) -> None:
        assert amortized_payment(2_000_000, 650, 48) == 47_430
        payment, interest, remaining = amortization_schedule(2_000_000, 650, 48)[0]
        assert (payment, interest) == (47_430, 10_833)
        assert payment - interest == 36_597
        assert remaining == 2_000_000 - 36_597

    def test_check2_student_loan_and_mortgage_payments(self) -> None:
        assert amortized_payment(1_500_000, 550, 120) == 16_279
        assert amortized_payment(24_000_000, 450, 360) == 121_604

    def test_check2_young_adult_persona_gets_amortised_payment(self, new_game: NewGame) -> None:
        state = new_game("young_adult")
        assert first(state, "student_loan").monthly_payment == 16_279

    def test_check3_mortgage_with_pmi_and_escrow(self) -> None:
        terms = mortgage_payment(30_000_000, 1_500_000, 30)
        assert terms["principal_interest"] == 144_405
        assert terms["pmi"] == 11_875
        assert terms["tax"] == 30_000
        assert terms["insurance"] == 12_500
        assert terms["total"] == 198_780

    def test_check3_no_pmi_at_twenty_percent_down(self) -> None:
        assert mortgage_payment(30_000_000, 6_000_000, 30)["pmi"] == 0


class TestBnpl:
    def test_check4_twelve_month_plan_payment(self) -> None:
        assert amortized_payment(100_000, 1_500, 12) == 9_026

    def test_check4_four_payment_plan(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        state.level = 3
        cash_before = first(state, "checking").balance
        action = {"type": "bnpl_purchase", "amount": 100_000, "plan": "4x", "category": "shopping"}
        new, outcome, _ = apply_action(state, action, content)
        assert outcome["status"] == "accepted"
        plan = next(a for a in new.accounts if a.type == "bnpl")
        assert [(i.due_day - state.day_number, i.amount) for i in plan.schedule] == [
            (0, 25_000),
            (14, 25_000),
            (28, 25_000),
            (42, 25_000),
        ]
        assert plan.schedule[0].paid and plan.balance == 75_000
        assert first(new, "checking").balance == cash_before - 25_000


class TestSavingsInterest:
    def test_check5_adb_interest(self) -> None:
        assert micros_to_cents(savings_interest_micros(10_000 * 1_000_000, 250)) == 2_060

    def test_check5_through_month_end_on_adb(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        savings = first(state, "savings")
        savings.balance = 1_000_000
        savings.adb_sum, savings.adb_days = 1_000_000 * 31, 31
        month_end_deposits(ctx_for(state, content))
        assert savings.balance == 1_002_060

    def test_check5_adb_not_closing_balance(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        savings = first(state, "savings")
        savings.balance = 2_000_000  # closing balance differs from the ADB
        savings.adb_sum, savings.adb_days = 1_000_000 * 30, 30
        month_end_deposits(ctx_for(state, content))
        assert savings.balance == 2_002_060


class TestCards:
    def test_check6_minimum_payment(self) -> None:
        assert card_minimum_payment(300_000) == 6_000
        assert card_minimum_payment(80_000) == 2_500
        assert card_minimum_payment(2_000) == 2_000

    def test_check7_interest_on_adb(self) -> None:
        assert card_interest(100_000, 1_999, 30, paid_in_full=False) == 1_643
        assert card_interest(100_000, 1_999, 30, paid_in_full=True) == 0


class TestCreditHealthIndex:
    def test_check8_weighted_score(self) -> None:
        assert chi_from_parts(85, 90, 50, 55, 100) == 739
        assert chi_from_parts(100, 100, 100, 100, 100) == 850
        assert chi_from_parts(0, 0, 0, 0, 0) == 300

    def test_check9_utilisation_bands(self) -> None:
        assert utilization_score(0, 100_000) == 85
        assert utilization_score(5_000, 100_000) == 100
        assert utilization_score(30_000, 100_000) == 70
        assert utilization_score(0, 0, has_cards=False) == 50

    def test_check9_credit_mix(self) -> None:
        assert mix_score(["checking", "savings", "credit_card", "auto_loan"]) == 55
        assert mix_score(["checking", "checking", "savings"]) == 20


class TestBudgetScore:
    def test_check10_category_ratios(self) -> None:
        assert month_score({"food": 50_000}, {"food": 55_000}) == 80
        assert month_score({"food": 50_000}, {"food": 30_000}) == 90
        assert month_score({"food": 50_000}, {"food": 10_000}) == 75

    def test_check11_weighted_and_unbudgeted(self) -> None:
        alloc = {"housing": 80_000, "food": 20_000}
        assert month_score(alloc, {"housing": 80_000, "food": 25_000}) == 90
        spent = {"housing": 80_000, "food": 25_000, "shopping": 10_000}
        assert month_score(alloc, spent) == 82


class TestInflation:
    def test_check12_normal_inflation(self) -> None:
        base = 800 * 1_000_000
        after_one = inflate_micros(base, 300)
        assert micros_to_cents(after_one) == 80_200
        value = base
        for _ in range(12):
            value = inflate_micros(value, 300)
        assert micros_to_cents(value) == 82_433

    def test_check12_month_end_inflates_bills(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        rent = next(b for b in state.bills if b.id == "rent")
        month_end(ctx_for(state, content))
        assert micros_to_cents(rent.base_micros) == 80_200


class TestInvestments:
    def test_check13_return_clamp_and_floor(self) -> None:
        assert apply_return(10_000, -450_000) == 7_000
        assert apply_return(1, -300_000) == 1

    def test_check14_dividend_and_early_withdrawal(self) -> None:
        assert quarterly_dividend(1_000_000, 200) == 5_000
        assert early_withdrawal_net(100_000) == 70_000

    def test_check14_retirement_sell_pays_700(self, content: Content, new_game: NewGame) -> None:
        state = new_game("parent")  # starts Friday 2027-01-01
        retirement = first(state, "retirement")
        retirement.holdings.append(Holding("index", 500_000, 500_000, yield_bp=200))
        retirement.balance = 500_000
        order = {"type": "place_order", "account_id": retirement.id, "asset": "index",
                 "side": "sell", "amount": 100_000}  # fmt: skip
        state, outcome, _ = apply_action(state, order, content)
        assert outcome["status"] == "accepted"
        seen: list[dict[str, object]] = []
        for day in range(3):
            state, events = advance_day(state, [], content, auto=True)
            seen.extend(events)
            # Saturday and Sunday are not trading days: the order waits.
            assert bool(state.orders) == (day < 2)
        sold = [e for e in seen if e["type"] == "move" and e["kind"] == "investment_sell"]
        taxed = [e for e in seen if e["type"] == "txn" and e["kind"] == "tax"]
        assert [e["amount"] for e in sold] == [100_000]
        assert [e["amount"] for e in taxed] == [-30_000]
        assert first(state, "retirement").holdings[0].value == 400_000


class TestInsurance:
    def test_check15_claim_and_renewal(self) -> None:
        player, insurer = claim_split(300_000, 50_000, 8_000)
        assert (player, insurer) == (100_000, 200_000)
        assert renewal_premium(15_000, 2) == 18_000

    def test_check15_renewal_in_engine(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        policy = Policy("pol-x", "health", 15_000, 15_000, 50_000, 8_000, claims_term=2)
        state.policies = [policy]
        renew(ctx_for(state, content))
        assert policy.premium == 18_000 and policy.claims_term == 0


class TestXpAndStreaks:
    def test_check16_teen_hard_streak(self) -> None:
        assert xp_amount(20, 1_200, 30, 1_300) == 41

    def test_check17_streak_multiplier(self) -> None:
        assert streak_multiplier_milli(6) == 1_000
        assert streak_multiplier_milli(7) == 1_100
        assert streak_multiplier_milli(90) == 1_500

    def test_check19_tiers(self) -> None:
        assert tier_for_xp(14_999) == 3
        assert tier_for_xp(15_000) == 4
        assert TIER_COIN_BONUS_PCT[tier_for_xp(15_000) - 1] == 5
        assert coin_amount(100, 0, 15_000, endless=False) == 105
        assert coin_amount(100, 0, 14_999, endless=False) == 100


class TestLevelUp:
    def _level4(self, new_game: NewGame) -> GameState:
        state = new_game("young_adult")
        state.level = 4
        state.chi = 700
        brokerage = first(state, "brokerage")
        brokerage.holdings.append(Holding("index", 150_000, 150_000))
        brokerage.balance = 150_000
        return state

    def test_check18_stays_below_xp(self, content: Content, new_game: NewGame) -> None:
        state = self._level4(new_game)
        state.total_xp = 9_999
        assert not level_up_check(ctx_for(state, content))
        assert state.level == 4

    def test_check18_clearing_level_four(self, content: Content, new_game: NewGame) -> None:
        state = self._level4(new_game)
        state.total_xp, state.coins = 10_000, 0
        assert level_up_check(ctx_for(state, content))
        assert (state.level, state.coins, state.total_xp) == (5, 400, 11_000)


class TestPersonalLoans:
    def test_check20_rates_and_refusals(self) -> None:
        assert personal_loan_apr(720) == 1_050
        assert personal_loan_apr(480) is None
        assert loan_decision(720, 650, 36, 40_000) == "DTI_TOO_HIGH"
        assert loan_decision(720, 650, 36, 36_000) == ""

    def test_check20_hard_game_refuses_high_dti(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult", "hard")
        state.level, state.chi = 4, 720
        action = {"type": "apply_loan", "loan_type": "personal_loan", "amount": 2_500_000,
                  "term_months": 12}  # fmt: skip
        new, outcome, _ = apply_action(state, action, content)
        assert outcome["result"] == {"approved": False, "denial_reason": "DTI_TOO_HIGH"}
        assert not any(a.type == "personal_loan" for a in new.accounts)

    def test_check20_low_chi_refused(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult", "easy")
        state.level, state.chi = 4, 480
        action = {"type": "apply_loan", "loan_type": "personal_loan", "amount": 100_000,
                  "term_months": 12}  # fmt: skip
        _, outcome, _ = apply_action(state, action, content)
        assert outcome["result"]["approved"] is False


class TestBankruptcy:
    def test_check21_threshold(self) -> None:
        assert not is_bankrupt(18_000_000, 300_000, 3)
        assert is_bankrupt(18_000_001, 300_000, 3)
        assert not is_bankrupt(18_000_001, 300_000, 2)

    def _distressed(self, new_game: NewGame, debt: int) -> GameState:
        state = new_game("young_adult")
        state.monthly_income = 300_000
        state.accounts = [a for a in state.accounts if a.type != "student_loan"]
        card = first(state, "credit_card")
        card.balance, card.credit_limit = 500_000, 600_000
        personal = Account("acc-p", "personal_loan", balance=debt - 500_000, apr_bp=0,
                           monthly_payment=100, term_months=60)  # fmt: skip
        state.accounts.append(personal)
        state.missed_streak = 2
        state.month_stats.missed_any = True
        state.bills = []
        return state

    def test_check21_no_bankruptcy_at_exactly_five_times(self, content: Content,
                                                          new_game: NewGame) -> None:  # fmt: skip
        state = self._distressed(new_game, 18_000_000)
        assert debt_total(state) == 18_000_000
        assert not bankruptcy_check(ctx_for(state, content))
        assert state.bankruptcy_count == 0 and state.missed_streak == 3
        state.accounts[-1].balance += 1
        state.missed_streak = 2
        assert bankruptcy_check(ctx_for(state, content))

    def test_check21_bankruptcy_effects(self, content: Content, new_game: NewGame) -> None:
        state = self._distressed(new_game, 18_000_101)
        first(state, "checking").balance = -300_000
        report = month_end(ctx_for(state, content))
        assert report.get("bankruptcy") is True
        assert state.chi == 350 and state.bankruptcy_count == 1
        for acc in state.accounts:
            if acc.type in ("credit_card", "personal_loan", "bnpl"):
                assert acc.balance == 0 and acc.status == "closed"
        assert debt_total(state) == 0


class TestCardExpiryAndVersions:
    def test_check22_expired_card_takes_worst_option(self, content: Content,
                                                      new_game: NewGame) -> None:  # fmt: skip
        state = new_game("young_adult")
        pending = state.pending_cards[0]
        card = content.cards[pending.card_id]
        worst = max(card.options, key=lambda o: pending.costs[o.id])
        for _ in range(3):
            state, _ = advance_day(state, [], content, auto=True)
        expired = next(p for p in state.pending_cards if p.id == pending.id)
        assert expired.status == "expired"
        assert expired.option == worst.id
        assert expired.xp == 0 and expired.coins == 0

    def test_check22_resolving_expired_card_is_rejected(self, content: Content,
                                                        new_game: NewGame) -> None:  # fmt: skip
        state = new_game("young_adult")
        pending = state.pending_cards[0]
        for _ in range(3):
            state, _ = advance_day(state, [], content, auto=True)
        option = content.cards[pending.card_id].options[0].id
        action = {"type": "resolve_card", "card_instance_id": pending.id, "option_id": option}
        same, outcome, _ = apply_action(state, action, content)
        assert outcome["code"] == "CARD_EXPIRED" and same is state

    def test_check22_stale_state_version(self, content: Content, new_game: NewGame) -> None:
        state = new_game("young_adult")
        action = {"type": "skip_all_cards"}
        same, outcome, _ = apply_action(state, action, content, expected_version=99)
        assert outcome["code"] == "STALE_STATE" and same is state
        same, events = advance_day(state, [], content, expected_version=99)
        assert events[-1]["code"] == "STALE_STATE" and same is state


class TestRedemption:
    def test_check23_sixth_redemption_rejected(self) -> None:
        ledger = RedemptionLedger(balance=10_000)
        for n in range(5):
            ledger, status = redeem(ledger, 1_000 + n, 100, f"p{n % 3}", f"i{n}", f"k{n}")
            assert status == "ACCEPTED"
        ledger, status = redeem(ledger, 2_000, 100, "p9", "i9", "k9")
        assert status == "DAILY_LIMIT" and ledger.balance == 9_500

    def test_check23_coin_cap_and_idempotency(self) -> None:
        ledger = RedemptionLedger(balance=10_000)
        ledger, status = redeem(ledger, 0, 4_900, "p", "a", "key-1")
        assert status == "ACCEPTED"
        ledger, status = redeem(ledger, 10, 4_900, "p", "a", "key-1")
        assert status == "DUPLICATE" and ledger.balance == 5_100
        ledger, status = redeem(ledger, 20, 200, "q", "b", "key-2")
        assert status == "DAILY_LIMIT" and ledger.balance == 5_100

    def test_check23_reward_price(self) -> None:
        assert reward_price_coins(800, 20) == 960


class TestCalendarAndCompounding:
    def test_check24_february(self) -> None:
        assert days_in_month(2028, 2) == 29
        assert days_in_month(2100, 2) == 29
        assert days_in_month(2027, 2) == 28
        assert is_month_end(2027, 2, 28) and not is_month_end(2028, 2, 28)

    def test_check24_worst_year(self) -> None:
        value = 1_000_000
        for _ in range(12):
            value = apply_return(value, -450_000)
        assert round((value - 1_000_000) / 1_000_000 * 100, 1) == -98.6

    def test_net_worth_is_assets_minus_debts(self, new_game: NewGame) -> None:
        state = new_game("parent")
        assets = sum(a.balance for a in state.accounts if a.type in ("checking", "savings",
                     "brokerage", "retirement")) + state.car_value + state.home_value  # fmt: skip
        assert net_worth(state) == assets - debt_total(state)
