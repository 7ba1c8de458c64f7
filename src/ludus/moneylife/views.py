"""Shaping engine state into response bodies."""

from __future__ import annotations

from datetime import date
from typing import Any

from ludus.moneylife import codec
from ludus.moneylife.engine import Content, GameState
from ludus.moneylife.engine.calendar import days_in_month
from ludus.moneylife.engine.money import micros_to_cents
from ludus.moneylife.engine.state import PendingCard
from ludus.moneylife.projections import game_date
from ludus.moneylife.schemas import (
    Balance,
    BalanceChange,
    Bill,
    CardView,
    GameView,
    OptionView,
    SummaryOut,
)
from ludus.moneylife.service import Loaded


def card_view(p: PendingCard, content: Content, start: date) -> CardView:
    card = content.cards[p.card_id]
    return CardView(
        card_instance_id=p.id,
        card_id=card.id,
        title=card.title,
        description=card.description,
        category=card.category,
        sponsored=card.subcategory == "sponsored",
        presented_game_date=game_date(start, p.presented_day),
        expires_game_date=game_date(start, p.expires_day),
        options=[
            OptionView(
                option_id=o.id,
                label=o.label,
                cost=p.costs.get(o.id, 0),
                gain=p.gains.get(o.id, 0),
                pay_from=o.pay_from,
                category=o.category,
            )
            for o in card.options
        ],
    )


def pending(st: GameState, content: Content, start: date) -> list[CardView]:
    return [card_view(p, content, start) for p in st.pending_cards if p.status == "pending"]


def game_view(loaded: Loaded, st: GameState, checksum: str | None = None) -> GameView:
    row = loaded.row
    return GameView(
        game_id=row.id,
        persona=row.persona,
        difficulty=st.difficulty,
        currency_code=row.currency_code,
        ppp_factor=row.ppp_factor,
        status="completed" if st.endless else st.status,
        current_game_date=game_date(loaded.start, st.day_number),
        state_version=st.state_version,
        state_checksum=checksum or codec.checksum_of(codec.dumps(st)),
        state=codec.to_plain(st),
    )


def summary(loaded: Loaded) -> SummaryOut:
    st, row = loaded.state, loaded.row
    month_end = game_date(loaded.start, st.day_number + days_in_month(st.year, st.month) - st.day)
    bills = [
        Bill(
            name=b.id,
            category=b.category,
            amount=micros_to_cents(b.base_micros),
            due_game_date=month_end,
        )
        for b in st.bills
        if b.active
    ]
    for acc in st.accounts:
        if acc.type == "credit_card" and acc.min_due > 0 and acc.due_day >= 0:
            bills.append(
                Bill(
                    name=f"{acc.id} minimum",
                    category="debt",
                    amount=acc.min_due,
                    due_game_date=game_date(loaded.start, acc.due_day),
                )
            )
    bills.sort(key=lambda b: b.due_game_date)
    return SummaryOut(
        game_id=row.id,
        current_game_date=game_date(loaded.start, st.day_number),
        state_version=st.state_version,
        balances=[
            Balance(account_id=a.id, type=a.type, balance=a.balance)
            for a in st.accounts
            if a.status != "closed"
        ],
        net_worth=st.net_worth,
        chi=st.chi,
        level=st.level,
        xp=st.total_xp,
        level_xp=row.level_xp,
        coins=st.coins,
        happiness=st.happiness // 10,
        budget_score=st.budget_score,
        streak=row.streak_current,
        next_bills=bills,
        pending_cards=pending(st, loaded.content, loaded.start),
    )


def balance_changes(events: list[dict[str, Any]], st: GameState) -> list[BalanceChange]:
    totals: dict[str, int] = {}
    for e in events:
        if e["type"] == "txn" and e["account"]:
            totals[e["account"]] = totals.get(e["account"], 0) + e["amount"]
        elif e["type"] == "move":
            totals[e["from"]] = totals.get(e["from"], 0) - e["amount"]
            totals[e["to"]] = totals.get(e["to"], 0) + e["amount"]
    balances = {a.id: a.balance for a in st.accounts}
    return [
        BalanceChange(account_id=k, amount=v, balance_after=balances.get(k, 0))
        for k, v in totals.items()
        if v
    ]


def public_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Engine events for the client, without per-posting noise (see /transactions)."""
    return [e for e in events if e["type"] not in ("txn", "move")]
