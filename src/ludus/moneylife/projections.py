"""Projection rows (the §3.1 tables) derived from engine state and events.

`diff(old, new, events)` returns only what changed, so one action writes a handful of rows;
`write` applies the changes of one or many games with one statement per table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import Table

from ludus.moneylife import bulk
from ludus.moneylife import models as m
from ludus.moneylife.engine.state import (
    ASSET_TYPES,
    Account,
    Chain,
    GameState,
    Goal,
    Holding,
    PendingCard,
    Policy,
)


def game_date(start: date, day_number: int) -> date:
    return start + timedelta(days=day_number)


def month_start(year: int, month: int) -> date:
    return date(year, month, 1)


def _d(start: date, day: int) -> date | None:
    return game_date(start, day) if day >= 0 else None


def _account(acc: Account, start: date) -> dict[str, Any]:
    is_card = acc.type == "credit_card"
    is_loan = acc.type in ("student_loan", "auto_loan", "mortgage", "personal_loan")
    return {
        "id": acc.id,
        "type": acc.type,
        "balance": acc.balance,
        "credit_limit": acc.credit_limit if is_card else None,
        "interest_rate_bp": acc.apr_bp,
        "principal": acc.principal if is_loan else None,
        "monthly_payment": acc.monthly_payment if is_loan else None,
        "term_months": acc.term_months if is_loan else None,
        "months_paid": acc.months_paid if is_loan else None,
        "auto_pay_setting": acc.auto_pay,
        "status": acc.status,
        "opened_game_date": game_date(start, acc.opened_day),
        "consecutive_missed_payments": acc.missed,
        "pending_interest": acc.pending_interest,
        "withdrawal_count_this_month": acc.withdrawals,
        "details": {
            "statement_balance": acc.statement,
            "minimum_due": acc.min_due,
            "due_date": str(game_date(start, acc.due_day)) if acc.due_day >= 0 else None,
            "extra_monthly": acc.extra_monthly,
            "overdraft": acc.overdraft,
            "secured": acc.secured,
            "rewards": acc.rewards,
            "in_collections": acc.in_collections,
            "collateral": acc.collateral,
        },
    }


def _pending(p: PendingCard, start: date) -> dict[str, Any]:
    return {
        "id": p.id,
        "card_id": p.card_id,
        "presented_game_date": game_date(start, p.presented_day),
        "expires_game_date": game_date(start, p.expires_day),
        "selected_option_id": p.option or None,
        "xp_awarded": p.xp if p.status != "pending" else None,
        "coins_awarded": p.coins if p.status != "pending" else None,
        "status": p.status,
    }


def _goal(g: Goal, start: date) -> dict[str, Any]:
    return {
        "id": g.id,
        "account_id": g.account_id,
        "name": g.name,
        "target_amount": g.target,
        "current_amount": g.current,
        "deadline_game_date": _d(start, g.deadline_day),
        "status": g.status,
    }


def _holding(item: tuple[str, Holding], start: date) -> dict[str, Any]:
    account_id, h = item
    return {
        "account_id": account_id,
        "asset_type": h.asset,
        "cost_basis": h.cost_basis,
        "current_value": h.value,
        "drip_enabled": h.drip,
    }


def _policy(pol: Policy, start: date) -> dict[str, Any]:
    return {
        "id": pol.id,
        "type": pol.type,
        "monthly_premium": pol.premium,
        "deductible": pol.deductible,
        "coverage_bp": pol.coverage_bp,
        "payout_amount": pol.payout,
        "claims_filed": pol.claims_filed,
        "status": pol.status,
        "premium_increase_bp": pol.increase_bp,
        "started_game_date": game_date(start, pol.started_day),
        "lapsed_game_date": _d(start, pol.lapsed_day),
    }


def _chain_row(ch: Chain, start: date) -> dict[str, Any]:
    return _chain(ch, start, ch.status)


def _by_id(items: Sequence[Any]) -> dict[tuple[Any, ...], Any]:
    return {(x.id,): x for x in items}


def _holdings(st: GameState) -> dict[tuple[Any, ...], tuple[str, Holding]]:
    return {(a.id, h.asset): (a.id, h) for a in st.accounts for h in a.holdings}


# table → (engine objects keyed like the table's rows, row builder)
_SOURCES: tuple[tuple[str, Callable[[GameState], dict[Any, Any]], Callable[..., Any]], ...] = (
    ("moneylife_accounts", lambda st: _by_id(st.accounts), _account),
    ("moneylife_pending_cards", lambda st: _by_id(st.pending_cards), _pending),
    ("moneylife_savings_goals", lambda st: _by_id(st.goals), _goal),
    ("moneylife_holdings", _holdings, _holding),
    ("moneylife_policies", lambda st: _by_id(st.policies), _policy),
    ("moneylife_consequences", lambda st: _by_id(st.chains), _chain_row),
)


def _changed_rows(
    objects: dict[Any, Any], previous: dict[Any, Any], build: Callable[..., Any], start: date
) -> list[dict[str, Any]]:
    """Rows of the objects whose row differs from the previous object's row. An object
    equal to its previous version (dataclass equality) cannot have a different row, so
    only changed objects are turned into rows: month-end touches a few of a game's rows."""
    out = []
    for key, obj in objects.items():
        before = previous.get(key)
        if before is not None and before == obj:
            continue
        row = build(obj, start)
        if before is None or build(before, start) != row:
            out.append(row)
    return out


def _chain(ch: Chain, start: date, status: str) -> dict[str, Any]:
    return {
        "id": ch.id,
        "trigger_card_id": ch.trigger_card,
        "trigger_option_id": ch.trigger_option,
        "earliest_trigger_date": game_date(start, ch.earliest_day),
        "latest_trigger_date": game_date(start, ch.latest_day),
        "probability_ppm": ch.probability_ppm,
        "status": status,
    }


@dataclass
class Changes:
    upserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deletes: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, kind: str, table: str, rows: Sequence[Any]) -> None:
        if rows:
            getattr(self, kind).setdefault(table, []).extend(rows)

    def merge(self, other: Changes) -> None:
        for kind in ("upserts", "deletes", "inserts"):
            for table, rows in getattr(other, kind).items():
                self.add(kind, table, rows)


def diff(
    game_id: uuid.UUID,
    tenant_id: uuid.UUID,
    start: date,
    old: GameState | None,
    new: GameState,
    events: Sequence[dict[str, Any]],
    *,
    automated: bool,
    card_id: str | None = None,
    now: datetime,
) -> Changes:
    ch = Changes()
    scope = {"game_id": game_id, "tenant_id": tenant_id}
    for table, objects_of, build in _SOURCES:
        objects = objects_of(new)
        previous = objects_of(old) if old is not None else {}
        changed = [{**scope, **row} for row in _changed_rows(objects, previous, build, start)]
        if table == "moneylife_pending_cards":
            for row in changed:
                row["resolved_at"] = now if row["status"] != "pending" else None
        ch.add("upserts", table, changed)
        gone = [key for key in previous if key not in objects]
        if table == "moneylife_holdings":
            ch.add("deletes", table, [(game_id, *key) for key in gone])
        elif table == "moneylife_consequences" and old is not None:
            done = []
            for key in gone:
                c = previous[key]
                done.append(
                    {**scope, **_chain(c, start, "expired" if c.outcome < 0 else "triggered")}
                )
            ch.add("upserts", table, done)
    _budget(ch, scope, old, new)
    _from_events(ch, scope, start, old, new, events, automated, card_id)
    return ch


def _budget(ch: Changes, scope: dict[str, Any], old: GameState | None, new: GameState) -> None:
    same_month = old is not None and (old.year, old.month) == (new.year, new.month)
    if (
        same_month
        and old is not None
        and (old.allocations, old.actuals)
        == (
            new.allocations,
            new.actuals,
        )
    ):
        return
    ch.add(
        "upserts",
        "moneylife_budgets",
        [
            {
                **scope,
                "game_month": month_start(new.year, new.month),
                "allocations": dict(new.allocations),
                "actuals": dict(new.actuals),
                "score": None,
            }
        ],
    )


def _from_events(
    ch: Changes,
    scope: dict[str, Any],
    start: date,
    old: GameState | None,
    new: GameState,
    events: Sequence[dict[str, Any]],
    automated: bool,
    card_id: str | None,
) -> None:
    running = {a.id: a.balance for a in old.accounts} if old is not None else {}
    types = {a.id: a.type for a in new.accounts}
    txns: list[dict[str, Any]] = []
    version = new.state_version

    def txn(acc: str, day: int, kind: str, category: str, amount: int, balance: int) -> None:
        txns.append(
            {
                **scope,
                "account_id": acc or "-",
                "game_date": game_date(start, day),
                "type": kind[:24],
                "category": (category or "")[:24],
                "amount": amount,
                "balance_after": balance,
                "description": f"{kind} {category}".strip()[:200],
                "card_id": card_id,
                "is_automated": automated,
                "state_version": version,
            }
        )

    for ev in events:
        kind = ev["type"]
        if kind == "txn":
            running[ev["account"]] = ev["balance"]
            txn(ev["account"], ev["day"], ev["kind"], ev["category"], ev["amount"], ev["balance"])
        elif kind == "move":
            for acc, delta in ((ev["from"], -ev["amount"]), (ev["to"], ev["amount"])):
                sign = 1 if types.get(acc) in ASSET_TYPES else -1
                running[acc] = running.get(acc, 0) + sign * delta
                txn(acc, ev["day"], ev["kind"], "", delta, running[acc])
        elif kind == "MONTH_END":
            _month_end_rows(ch, scope, ev["report"])
    ch.add("inserts", "moneylife_transactions", txns)


def _month_end_rows(ch: Changes, scope: dict[str, Any], report: dict[str, Any]) -> None:
    month = date.fromisoformat(report["month"] + "-01")
    ch.add(
        "upserts",
        "moneylife_monthly_reports",
        [
            {
                **scope,
                "game_month": month,
                "income_total": report["income_total"],
                "expense_total": report["expense_total"],
                "savings_change": report["savings_change"],
                "investment_change": report["investment_change"],
                "debt_change": report["debt_change"],
                "net_worth": report["net_worth"],
                "chi_score": report["chi_score"],
                "budget_score": report["budget_score"],
                "xp_earned": report["xp_earned"],
                "coins_earned": report["coins_earned"],
                "highlights": report["highlights"],
                "report": report,
            }
        ],
    )
    ch.add(
        "upserts",
        "moneylife_chi_history",
        [
            {
                **scope,
                "game_month": month,
                "score": report["chi_score"],
                "breakdown": report["chi_breakdown"],
            }
        ],
    )
    ch.add(
        "upserts",
        "moneylife_budgets",
        [
            {
                **scope,
                "game_month": month,
                "allocations": report["allocations"],
                "actuals": report["actuals"],
                "score": report["budget_score"],
            }
        ],
    )


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        m.table_of(m.GameAccount),
        m.table_of(m.PendingCardRow),
        m.table_of(m.SavingsGoal),
        m.table_of(m.Holding),
        m.table_of(m.InsurancePolicy),
        m.table_of(m.Consequence),
        m.table_of(m.Budget),
        m.table_of(m.MonthlyReport),
        m.table_of(m.ChiHistory),
        m.table_of(m.GameTransaction),
    )
}


def _dedupe(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Last write wins within one statement (ON CONFLICT cannot touch a row twice)."""
    key = itemgetter(*(c.name for c in table.primary_key.columns))
    return list({key(row): row for row in rows}.values())


def write(batch: bulk.Batch, changes: Changes) -> None:
    """Queue the changes of any number of games: one clause per table."""
    for name, keys in changes.deletes.items():
        table = TABLES[name]
        cols = [c.name for c in table.primary_key.columns]
        batch.delete(table, [dict(zip(cols, key, strict=True)) for key in keys])
    for name, upserts in changes.upserts.items():
        table = TABLES[name]
        pk = [c.name for c in table.primary_key.columns]
        batch.insert(table, _dedupe(table, upserts), conflict=pk)
    for name, inserts in changes.inserts.items():
        batch.insert(TABLES[name], inserts)
