"""Brokerage and retirement accounts: queued orders, seeded returns, dividends.

Orders are queued and fill at the next advance that lands on a trading day
(Mon–Fri); they can be cancelled until then. Monthly return per (month, asset)
= mean + SD × volatility × z (z from the game's "market" stream), clamped to
±30 %, values floored at 0.01. Scripted months replace the draw.
"""

from __future__ import annotations

from .calendar import is_trading_day, month_index
from .errors import (
    ACCOUNT_NOT_FOUND,
    INSUFFICIENT_FUNDS,
    INVALID_ACTION,
    INVALID_AMOUNT,
    LIMIT_EXCEEDED,
    LOCKED,
    NOT_FOUND,
    ActionError,
)
from .ledger import Ctx, asset_flow, cash_account, emit, find_account, flow, move, new_id
from .money import apply_return, div_round, pct_of
from .progression import award_xp
from .rng import Stream
from .state import Account, Holding, Order

MIN_ORDER = 1_000
MAX_TRADES_PER_DAY = 5
RETIREMENT_MONTHLY_CAP = 50_000
EARLY_PENALTY_BP = 1_000
EARLY_TAX_BP = 2_000
INVEST_XP_PER_DAY = 2
# (level, level-month, asset, return ppm); L5's month 8 fires by its last month.
SCRIPTED = ((5, 5, "index", -150_000), (7, 3, "crypto", -400_000), (8, 6, "index", 120_000))


def open_investment(ctx: Ctx, kind: str) -> Account:
    st = ctx.st
    unlock = ctx.persona.unlocks.get("investing")
    if unlock is None or st.level < unlock:
        raise ActionError(LOCKED, "investing not unlocked")
    if any(a.type == kind and a.status != "closed" for a in st.accounts):
        raise ActionError(LIMIT_EXCEEDED, f"already have a {kind} account")
    acc = Account(new_id(st, "acc"), kind, opened_day=st.day_number)
    st.accounts.append(acc)
    return acc


def place_order(ctx: Ctx, account_id: str, asset: str, side: str, amount: int) -> Order:
    st = ctx.st
    acc = find_account(st, account_id)
    if acc is None or acc.type not in ("brokerage", "retirement"):
        raise ActionError(ACCOUNT_NOT_FOUND, account_id)
    if acc.status == "frozen":
        raise ActionError(LOCKED, "investments frozen")
    spec = ctx.content.assets.get(asset)
    if spec is None or side not in ("buy", "sell"):
        raise ActionError(INVALID_ACTION, "unknown asset or side")
    if st.level < spec.min_level:
        raise ActionError(LOCKED, f"{asset} unlocks at level {spec.min_level}")
    if amount < MIN_ORDER:
        raise ActionError(INVALID_AMOUNT, "minimum order is 10")
    if st.day_counts.get("trade", 0) >= MAX_TRADES_PER_DAY:
        raise ActionError(LIMIT_EXCEEDED, "5 trades per day")
    queued = [o for o in st.orders if o.status == "queued" and o.account_id == acc.id]
    if side == "buy":
        reserved = sum(o.amount for o in st.orders if o.status == "queued" and o.side == "buy")
        if cash_account(st).balance < amount + reserved:
            raise ActionError(INSUFFICIENT_FUNDS, "cash balance too low")
        if acc.type == "retirement":
            pending = sum(o.amount for o in queued if o.side == "buy")
            if acc.contributions_month + pending + amount > RETIREMENT_MONTHLY_CAP:
                raise ActionError(LIMIT_EXCEEDED, "retirement contributions ≤ 500/month")
    else:
        held = sum(h.value for h in acc.holdings if h.asset == asset)
        selling = sum(o.amount for o in queued if o.side == "sell" and o.asset == asset)
        if held < amount + selling:
            raise ActionError(INSUFFICIENT_FUNDS, "not enough holdings")
    st.day_counts["trade"] = st.day_counts.get("trade", 0) + 1
    order = Order(new_id(st, "ord"), acc.id, asset, side, amount, st.day_number)
    st.orders.append(order)
    return order


def cancel_order(ctx: Ctx, order_id: str) -> None:
    order = next((o for o in ctx.st.orders if o.id == order_id), None)
    if order is None or order.status != "queued":
        raise ActionError(NOT_FOUND, order_id)
    order.status = "cancelled"


def set_drip(ctx: Ctx, account_id: str, asset: str, enabled: bool) -> None:
    acc = find_account(ctx.st, account_id)
    if acc is None or acc.type not in ("brokerage", "retirement"):
        raise ActionError(ACCOUNT_NOT_FOUND, account_id)
    for h in acc.holdings:
        if h.asset == asset:
            h.drip = enabled


def _holding(ctx: Ctx, acc: Account, asset: str) -> Holding:
    for h in acc.holdings:
        if h.asset == asset:
            return h
    low, high = ctx.content.assets[asset].dividend_bp
    stream = Stream(ctx.st.seed, "dividend-yield", f"{acc.id}:{asset}")
    h = Holding(asset, 0, 0, drip=False, yield_bp=stream.between(low, high))
    acc.holdings.append(h)
    return h


def fill_orders(ctx: Ctx) -> None:
    """Daily: fill queued orders on trading days."""
    st = ctx.st
    if not st.orders or not is_trading_day(st.year, st.month, st.day):
        return
    for order in st.orders:
        if order.status != "queued" or order.placed_day >= st.day_number:
            continue
        acc = find_account(st, order.account_id)
        if acc is None or acc.status == "frozen":
            continue
        if order.side == "buy":
            _fill_buy(ctx, acc, order)
        else:
            _fill_sell(ctx, acc, order)
    st.orders = [o for o in st.orders if o.status == "queued"]


def _fill_buy(ctx: Ctx, acc: Account, order: Order) -> None:
    cash = cash_account(ctx.st)
    if cash.balance < order.amount:
        order.status = "failed"
        emit(ctx, "ORDER_FAILED", order_id=order.id, reason="INSUFFICIENT_FUNDS")
        return
    h = _holding(ctx, acc, order.asset)
    move(ctx, cash, acc, order.amount, "investment_buy")
    h.value += order.amount
    h.cost_basis += order.amount
    if acc.type == "retirement":
        acc.contributions_month += order.amount
        ctx.st.retirement_year += order.amount
        ctx.st.actuals["savings"] = ctx.st.actuals.get("savings", 0) + order.amount
    order.status = "filled"
    done = ctx.st.day_counts.get("invest_xp", 0)
    if done < INVEST_XP_PER_DAY:
        ctx.st.day_counts["invest_xp"] = done + 1
        award_xp(ctx, 10, "invest")
    emit(ctx, "ORDER_FILLED", order_id=order.id, amount=order.amount)


def _fill_sell(ctx: Ctx, acc: Account, order: Order) -> None:
    h = next((x for x in acc.holdings if x.asset == order.asset), None)
    if h is None or h.value <= 0:
        order.status = "failed"
        return
    amount = min(order.amount, h.value)
    basis = div_round(h.cost_basis * amount, h.value)
    h.value -= amount
    h.cost_basis -= basis
    cash = cash_account(ctx.st)
    move(ctx, acc, cash, amount, "investment_sell")
    if acc.type == "retirement":
        # Early withdrawal: 10 % penalty + 20 % tax (1,000 → 700).
        lost = pct_of(amount, EARLY_PENALTY_BP) + pct_of(amount, EARLY_TAX_BP)
        flow(ctx, cash, -lost, "tax", "misc")
    acc.holdings = [x for x in acc.holdings if x.value > 0]
    order.status = "filled"
    emit(ctx, "ORDER_FILLED", order_id=order.id, amount=-amount)


def early_withdrawal_net(amount: int) -> int:
    return amount - pct_of(amount, EARLY_PENALTY_BP) - pct_of(amount, EARLY_TAX_BP)


def monthly_return_ppm(ctx: Ctx, asset: str) -> int:
    st = ctx.st
    for level, month, scripted_asset, ppm in SCRIPTED:
        if st.level == level and st.progress.month + 1 == month and scripted_asset == asset:
            return ppm
    spec = ctx.content.assets[asset]
    z = Stream(st.seed, "market", f"{month_index(st.year, st.month)}:{asset}").normal_ppm()
    sd_ppm = spec.sd_bp * 100 * ctx.diff.volatility_milli // 1000
    return spec.mean_bp * 100 + sd_ppm * z // 1_000_000


def revalue(ctx: Ctx) -> None:
    """Month-end step 7 (plus quarterly dividends and yearly car depreciation)."""
    st = ctx.st
    returns: dict[str, int] = {}
    quarter = st.month % 3 == 0
    for acc in st.accounts:
        if acc.type != "brokerage" and acc.type != "retirement":
            continue
        acc.contributions_month = 0
        for h in acc.holdings:
            r = returns.get(h.asset)
            if r is None:
                r = returns[h.asset] = monthly_return_ppm(ctx, h.asset)
            new_value = apply_return(h.value, r)
            if new_value != h.value:
                flow(ctx, acc, new_value - h.value, "market")
                h.value = new_value
            if quarter and h.yield_bp:
                _dividend(ctx, acc, h)
    if returns:
        emit(ctx, "MARKET", returns=dict(sorted(returns.items())))


def quarterly_dividend(value: int, yield_bp: int) -> int:
    return div_round(value * yield_bp, 40_000)


def _dividend(ctx: Ctx, acc: Account, h: Holding) -> None:
    div = quarterly_dividend(h.value, h.yield_bp)
    if div <= 0:
        return
    if acc.status == "frozen":
        acc.held_dividends += div
        asset_flow(ctx, div, "dividend")
    elif h.drip:
        flow(ctx, acc, div, "dividend")
        h.value += div
        h.cost_basis += div
    else:
        flow(ctx, cash_account(ctx.st), div, "dividend")


def release_frozen(ctx: Ctx) -> None:
    for acc in ctx.st.accounts:
        if acc.status == "frozen":
            acc.status = "active"
            if acc.held_dividends:
                cash_account(ctx.st).balance += acc.held_dividends
                acc.held_dividends = 0
            emit(ctx, "INVESTMENTS_UNFROZEN", account=acc.id)
