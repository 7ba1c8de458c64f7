"""Resolving decision cards, expiry to the worst outcome, and follow-up chains.

A chain outcome is drawn when the option is chosen: each outcome's p is scaled
by the difficulty chain factor (capped at 1) and the first outcome whose
cumulative probability covers the draw fires on a uniform day in its window.
"""

from __future__ import annotations

from typing import Any

from .accounts import withdrawal_fee
from .content import Card, Option
from .credit import record_late
from .creditcard import available_credit
from .deck import present
from .errors import (
    CARD_EXPIRED,
    CARD_NOT_FOUND,
    INSUFFICIENT_FUNDS,
    INVALID_ACTION,
    OPTION_NOT_FOUND,
    ActionError,
)
from .insurance import DISPUTE_PPM, active_policy, claim_split, settle_claim
from .ledger import Ctx, accounts_of, can_pay, cash_account, emit, flow, mark_overdrawn, new_id
from .loans import bnpl_purchase
from .money import div_round, scale_milli
from .progression import QUALITY_COINS, QUALITY_XP, award_coins, award_xp
from .rng import Stream
from .state import Account, Chain, PendingCard

QUALITY_RANK = {"worst": 0, "poor": 1, "ok": 2, "good": 3, "best": 4}
DECLINE = "decline"


def change_happiness(ctx: Ctx, points: int, from_spending: bool = False) -> None:
    tenths = points * 10
    if from_spending and tenths > 0:
        tenths = scale_milli(tenths, ctx.diff.spend_happiness_milli)
    ctx.st.happiness = max(50, min(950, ctx.st.happiness + tenths))


def _find(ctx: Ctx, instance_id: str) -> PendingCard:
    for p in ctx.st.pending_cards:
        if p.id == instance_id:
            if p.status == "expired":
                raise ActionError(CARD_EXPIRED, instance_id)
            if p.status != "pending":
                raise ActionError(CARD_NOT_FOUND, "card already resolved")
            return p
    raise ActionError(CARD_NOT_FOUND, instance_id)


def _savings_source(ctx: Ctx, cost: int) -> Account | None:
    best = None
    for acc in accounts_of(ctx.st, "savings"):
        if acc.balance >= cost + withdrawal_fee(acc) and (
            best is None or acc.balance > best.balance
        ):
            best = acc
    return best


def _card_source(ctx: Ctx, cost: int) -> Account | None:
    for acc in accounts_of(ctx.st, "credit_card"):
        if acc.status == "active" and available_credit(acc) >= cost:
            return acc
    return None


def _pay(ctx: Ctx, card: Card, opt: Option, pending: PendingCard, cost: int) -> None:
    """Validate then pay `cost` the way the option says; raises before mutating."""
    if cost <= 0:
        return
    cat = opt.category
    if opt.pay_from == "cash":
        cash = cash_account(ctx.st)
        if not can_pay(cash, cost):
            raise ActionError(INSUFFICIENT_FUNDS, "not enough cash")
        flow(ctx, cash, -cost, "expense", cat)
        mark_overdrawn(ctx, cash)
    elif opt.pay_from == "savings":
        acc = _savings_source(ctx, cost)
        if acc is None:
            raise ActionError(INSUFFICIENT_FUNDS, "not enough savings")
        fee = withdrawal_fee(acc)
        flow(ctx, acc, -cost, "expense", cat)
        if fee:
            flow(ctx, acc, -fee, "fee", "misc")
        acc.withdrawals += 1
    elif opt.pay_from == "card":
        acc = _card_source(ctx, cost)
        if acc is None:
            raise ActionError(INSUFFICIENT_FUNDS, "no card with enough credit")
        flow(ctx, acc, -cost, "expense", cat)
    elif opt.pay_from == "bnpl":
        bnpl_purchase(ctx, cost, "4x", cat)
    else:
        _pay_insured(ctx, pending, cost, cat)


def _pay_insured(ctx: Ctx, pending: PendingCard, cost: int, cat: str) -> None:
    incident = next((i for i in ctx.st.incidents if i.id == pending.incident_id), None)
    policy = active_policy(ctx, incident.insurance) if incident else None
    if incident is None or policy is None or incident.claimed:
        raise ActionError(INVALID_ACTION, "no active policy covers this event")
    player, _ = claim_split(cost, policy.deductible, policy.coverage_bp)
    if Stream(ctx.st.seed, "claims", incident.id).chance_ppm(DISPUTE_PPM):
        player = cost  # a disputed claim is paid in full now, refunded if won
    cash = cash_account(ctx.st)
    if not can_pay(cash, player):
        raise ActionError(INSUFFICIENT_FUNDS, "cannot cover the deductible")
    flow(ctx, cash, -player, "expense", cat)
    mark_overdrawn(ctx, cash)
    settle_claim(ctx, policy, incident, prepaid=False)


def resolve(ctx: Ctx, instance_id: str, option_id: str) -> dict[str, Any]:
    st = ctx.st
    pending = _find(ctx, instance_id)
    card = ctx.content.cards[pending.card_id]
    if option_id == DECLINE and cash_account(st).balance <= 0:
        change_happiness(ctx, -5)
        return _finish(ctx, pending, card, None, DECLINE, award_xp(ctx, 2, card.category), 0)
    opt = ctx.content.option_index.get((card.id, option_id))
    if opt is None:
        raise ActionError(OPTION_NOT_FOUND, option_id)
    cost, gain = pending.costs.get(opt.id, 0), pending.gains.get(opt.id, 0)
    if "parent_ok" in opt.tags and ctx.persona.parent_denial_pct:
        denied = Stream(st.seed, "parent", pending.id).chance_ppm(
            ctx.persona.parent_denial_pct * 10_000
        )
        if denied:
            change_happiness(ctx, -3)
            emit(ctx, "PARENT_DENIED", card_instance_id=pending.id)
            return _finish(ctx, pending, card, None, opt.id, award_xp(ctx, 2, card.category), 0)
    _pay(ctx, card, opt, pending, cost)
    _apply_option(ctx, card, opt, pending, cost, gain)
    good = opt.quality in ("good", "best")
    base_xp = opt.xp if opt.xp is not None else QUALITY_XP[opt.quality]
    xp = award_xp(ctx, base_xp, card.category, good_choice=good)
    coins = award_coins(ctx, opt.coins if opt.coins is not None else QUALITY_COINS[opt.quality])
    return _finish(ctx, pending, card, opt, opt.id, xp, coins)


def _apply_option(ctx: Ctx, card: Card, opt: Option, pending: PendingCard, cost: int,
                  gain: int) -> None:  # fmt: skip
    st = ctx.st
    if gain:
        flow(ctx, cash_account(st), gain, "income", "")
    change_happiness(ctx, opt.happiness, from_spending=cost > 0)
    if opt.chi:
        st.chi_offset += opt.chi
    if "community" in opt.tags:
        st.progress.community_events += 1
    if "emergency" in opt.tags and opt.pay_from not in ("card", "bnpl"):
        st.progress.emergencies_no_debt += 1
    _schedule(ctx, card, opt, pending, cost)


def _finish(ctx: Ctx, pending: PendingCard, card: Card, opt: Option | None, option_id: str,
            xp: int, coins: int) -> dict[str, Any]:  # fmt: skip
    st = ctx.st
    pending.status = "resolved"
    pending.option = option_id
    pending.xp, pending.coins = xp, coins
    resolved = st.day_counts.get("resolved", 0) + 1
    st.day_counts["resolved"] = resolved
    if resolved == st.day_counts.get("dealt", 0) and not any(
        p.status == "pending" for p in st.pending_cards
    ):
        award_coins(ctx, 5)
    result = {"card_instance_id": pending.id, "card_id": card.id, "option": option_id,
              "cost": pending.costs.get(option_id, 0), "gain": pending.gains.get(option_id, 0),
              "xp": xp, "coins": coins, "narrative": opt.label if opt else "Declined."}  # fmt: skip
    emit(ctx, "CARD_RESOLVED", **result)
    _prune(st.pending_cards)
    return result


def _prune(cards: list[PendingCard]) -> None:
    if len(cards) > 12:
        keep = [c for c in cards if c.status == "pending"]
        done = [c for c in cards if c.status != "pending"][-8:]
        cards[:] = done + keep


def worst_option(card: Card, pending: PendingCard) -> Option:
    return max(card.options,
               key=lambda o: (pending.costs.get(o.id, 0), -QUALITY_RANK[o.quality]))  # fmt: skip


def force_worst(ctx: Ctx, pending: PendingCard) -> None:
    """Expiry or skip-all: costliest option, 0 XP and 0 coins."""
    card = ctx.content.cards[pending.card_id]
    opt = worst_option(card, pending)
    cost, gain = pending.costs.get(opt.id, 0), pending.gains.get(opt.id, 0)
    try:
        _pay(ctx, card, opt, pending, cost)
    except ActionError:
        _force_pay(ctx, cost, opt.category)
    _apply_option(ctx, card, opt, pending, cost, gain)
    pending.status = "expired"
    pending.option = opt.id
    emit(ctx, "CARD_EXPIRED", card_instance_id=pending.id, card_id=card.id, option=opt.id,
         cost=cost)  # fmt: skip
    _prune(ctx.st.pending_cards)


def _force_pay(ctx: Ctx, cost: int, category: str) -> None:
    if cost <= 0:
        return
    cash = cash_account(ctx.st)
    if can_pay(cash, cost):
        flow(ctx, cash, -cost, "expense", category)
        mark_overdrawn(ctx, cash)
        return
    card = _card_source(ctx, cost)
    if card is not None:
        flow(ctx, card, -cost, "expense", category)
        return
    # Nothing can pay: the bill goes unpaid and counts as a missed payment.
    ctx.st.month_stats.missed_any = True
    record_late(ctx.st, 1)
    emit(ctx, "BILL_MISSED", amount=cost, category=category)


def expire_due(ctx: Ctx) -> None:
    today = ctx.st.day_number
    for pending in list(ctx.st.pending_cards):
        if pending.status == "pending" and today >= pending.expires_day:
            force_worst(ctx, pending)


def skip_all(ctx: Ctx) -> int:
    pending = [p for p in ctx.st.pending_cards if p.status == "pending"]
    for p in pending:
        force_worst(ctx, p)
    return len(pending)


def _schedule(ctx: Ctx, card: Card, opt: Option, pending: PendingCard, cost: int) -> None:
    st = ctx.st
    for n, fu in enumerate(opt.followups):
        stream = Stream(st.seed, "chain", f"{pending.id}:{n}")
        fire = st.day_number + stream.between(fu.window[0], fu.window[1])
        draw = stream.below(1_000_000)
        chosen, acc, p_total = -1, 0, 0
        for i, out in enumerate(fu.outcomes):
            p = min(1_000_000, int(out.p * 1_000_000) * ctx.diff.chain_milli // 1000)
            acc = min(1_000_000, acc + p)
            if chosen < 0 and draw < acc:
                chosen, p_total = i, p
        start, end = st.day_number + fu.window[0], st.day_number + fu.window[1]
        chain = Chain(new_id(st, "ch"), card.id, opt.id, fire, start, end, chosen, p_total, cost)
        chain.followup = n
        st.chains.append(chain)


def fire_chains(ctx: Ctx) -> None:
    st = ctx.st
    if not st.chains:
        return
    today = st.day_number
    for ch in st.chains:
        if ch.status != "waiting" or ch.fire_day > today:
            continue
        if ch.outcome < 0:
            ch.status = "expired"
            continue
        ch.status = "triggered"
        trigger = ctx.content.option_index[(ch.trigger_card, ch.trigger_option)]
        out = trigger.followups[ch.followup].outcomes[ch.outcome]
        stream = Stream(st.seed, "chain-fire", ch.id)
        if out.card:
            present(ctx, ctx.content.cards[out.card], stream)
        elif out.effect is not None:
            _apply_effect(ctx, out.effect, ch, stream)
    st.chains = [c for c in st.chains if c.status == "waiting"]


def _apply_effect(ctx: Ctx, eff: Any, ch: Chain, stream: Stream) -> None:
    gain_low, gain_high = int(eff.gain[0] * 100), int(eff.gain[1] * 100)
    gain = stream.between(gain_low, gain_high) if gain_high > gain_low else gain_low
    gain += div_round(ch.base_cost * eff.cost_multiple_milli, 1000)
    cost_low, cost_high = int(eff.cost[0] * 100), int(eff.cost[1] * 100)
    cost = stream.between(cost_low, cost_high) if cost_high > cost_low else cost_low
    if gain:
        flow(ctx, cash_account(ctx.st), gain, "income", "")
    if cost:
        _force_pay(ctx, cost, "misc")
    change_happiness(ctx, eff.happiness)
    emit(ctx, "CHAIN_OUTCOME", chain_id=ch.id, card_id=ch.trigger_card, gain=gain, cost=cost,
         narrative=eff.narrative)  # fmt: skip
