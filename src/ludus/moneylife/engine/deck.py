"""Dealing decision cards: eligibility, weights and a seeded draw.

Eligible: persona and level match, not seen in 30 days, prerequisites met,
in season. Weight × 1.5 if the category has been unseen > 7 days, × 2 if
> 14 (the reference's ×2, not the stacked ×3); emergency × 2.5 when
financial comfort > 0.8; financial × 2 when the budget score < 50; then the
difficulty factor on emergencies. Draw without replacement.
"""

from __future__ import annotations

from .content import Card, Content
from .ledger import Ctx, accounts_of, emit, new_id, savings_total
from .rng import Stream
from .state import GameState, PendingCard

EXPIRY_DAYS = 3
SEEN_COOLDOWN = 30
MAX_PENDING = 4
_INDEX_ATTR = "_deal_index"


def _index(content: Content) -> dict[tuple[str, int], list[Card]]:
    idx: dict[tuple[str, int], list[Card]] | None = getattr(content, _INDEX_ATTR, None)
    if idx is None:
        idx = {}
        for card in sorted(content.cards.values(), key=lambda c: c.id):
            if card.chain_only:
                continue
            for persona in card.personas:
                for level in range(card.level_min, card.level_max + 1):
                    idx.setdefault((persona, level), []).append(card)
        setattr(content, _INDEX_ATTR, idx)
    return idx


def prerequisite_met(st: GameState, req: str) -> bool:
    if req == "has_card":
        return bool(accounts_of(st, "credit_card"))
    if req == "has_car":
        return st.car_value > 0
    if req == "no_car":
        return st.car_value == 0
    if req == "has_home":
        return st.home_value > 0
    if req == "renter":
        return st.home_value == 0
    if req == "has_checking":
        return bool(accounts_of(st, "checking"))
    if req == "has_investments":
        return any(a.holdings for a in st.accounts)
    if req == "has_debt":
        return any(a.balance > 0 for a in st.accounts if a.type not in ("checking", "prepaid",
                   "savings", "brokerage", "retirement"))  # fmt: skip
    raise ValueError(f"unknown prerequisite {req!r}")


def _comfort_milli(st: GameState) -> int:
    need = 3 * st.recurring_expenses
    if need <= 0:
        return 1000
    return min(1000, savings_total(st) * 1000 // need)


def card_weight(ctx: Ctx, card: Card) -> int:
    st = ctx.st
    w = card.weight * 1000
    last = st.category_seen.get(card.category)
    unseen = st.day_number - last if last is not None else 10**6
    if unseen > 14:
        w *= 2
    elif unseen > 7:
        w = w * 3 // 2
    if card.category == "emergency":
        if _comfort_milli(st) > 800:
            w = w * 5 // 2
        w = w * ctx.diff.chain_milli // 1000
    if card.category == "financial" and st.budget_score < 50:
        w *= 2
    if card.seasonal:
        w = w * ctx.content.seasons[card.seasonal].weight_milli // 1000
    return w


def eligible(ctx: Ctx) -> list[Card]:
    st = ctx.st
    month = st.month
    out = []
    for card in _index(ctx.content).get((st.persona, st.level), ()):
        seen = st.card_seen.get(card.id)
        if seen is not None and st.day_number - seen < SEEN_COOLDOWN:
            continue
        if card.seasonal and month not in ctx.content.seasons[card.seasonal].months:
            continue
        if card.requires and not all(prerequisite_met(st, r) for r in card.requires):
            continue
        out.append(card)
    return out


def present(
    ctx: Ctx, card: Card, stream: Stream, amount: int = 0, incident: str = ""
) -> PendingCard:
    """Put a card in front of the player, drawing any cost ranges now."""
    st = ctx.st
    costs: dict[str, int] = {}
    gains: dict[str, int] = {}
    infl = st.inflation_ppm
    for opt in card.options:
        if "event_cost" in opt.tags:
            costs[opt.id] = amount
        else:
            low, high = int(opt.cost[0] * 100), int(opt.cost[1] * 100)
            cost = stream.between(low, high) if high > low else low
            costs[opt.id] = cost * infl // 1_000_000
        glow, ghigh = int(opt.gain[0] * 100), int(opt.gain[1] * 100)
        gains[opt.id] = stream.between(glow, ghigh) if ghigh > glow else glow
    pending = PendingCard(new_id(st, "ci"), card.id, st.day_number, st.day_number + EXPIRY_DAYS,
                          costs, gains, amount=amount, incident_id=incident)  # fmt: skip
    st.pending_cards.append(pending)
    st.card_seen[card.id] = st.day_number
    st.category_seen[card.category] = st.day_number
    st.day_counts["dealt"] = st.day_counts.get("dealt", 0) + 1
    emit(ctx, "CARD_DEALT", card_instance_id=pending.id, card_id=card.id)
    return pending


def deal_daily(ctx: Ctx, bonus: int = 0) -> int:
    st = ctx.st
    level = ctx.content.levels[st.level]
    stream = Stream(st.seed, "deal", st.day_number)
    count = level.cards_base + (1 if stream.chance_ppm(level.cards_extra_pct * 10_000) else 0)
    count += bonus
    room = MAX_PENDING - sum(1 for p in st.pending_cards if p.status == "pending")
    count = min(count, room)
    if count <= 0:
        return 0
    pool = eligible(ctx)
    weights = [card_weight(ctx, c) for c in pool]
    dealt = 0
    while dealt < count and pool:
        i = stream.weighted_index(weights)
        present(ctx, pool.pop(i), stream)
        weights.pop(i)
        dealt += 1
    return dealt
