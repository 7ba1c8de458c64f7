"""Player actions: validation and dispatch.

Every action is a dict with a "type" and its parameters (amounts in integer
cents). Handlers validate before mutating; as a second guard the state is
snapshotted and restored if a handler raises, so a rejected action changes
nothing. Accepted actions bump `state_version`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import accounts, cards, creditcard, insurance, invest, loans
from .budget import validate_allocations
from .content import Content
from .errors import (
    ACCOUNT_NOT_FOUND,
    INVALID_ACTION,
    LOCKED,
    STALE_STATE,
    ActionError,
)
from .ledger import Ctx, emit, find_account, gross_income, make_ctx
from .progression import award_xp
from .serial import clone
from .state import Account, GameState

Handler = Callable[[Ctx, dict[str, Any]], dict[str, Any]]


def _int(action: dict[str, Any], key: str, default: int | None = None) -> int:
    value = action.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError(INVALID_ACTION, f"{key} must be an integer number of cents")
    return value


def _str(action: dict[str, Any], key: str) -> str:
    value = action.get(key)
    if not isinstance(value, str) or not value:
        raise ActionError(INVALID_ACTION, f"{key} is required")
    return value


def _card(ctx: Ctx, account_id: str) -> Account:
    acc = find_account(ctx.st, account_id)
    if acc is None or acc.type != "credit_card" or acc.status == "closed":
        raise ActionError(ACCOUNT_NOT_FOUND, account_id)
    return acc


def _once(ctx: Ctx, key: str, xp: int) -> None:
    if key not in ctx.st.milestones:
        ctx.st.milestones[key] = ctx.st.day_number
        award_xp(ctx, xp)


def _resolve_card(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    return cards.resolve(ctx, _str(a, "card_instance_id"), _str(a, "option_id"))


def _skip_all(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    return {"skipped": cards.skip_all(ctx)}


def _transfer(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    return accounts.transfer(ctx, _str(a, "from_account"), _str(a, "to_account"), _int(a, "amount"))


def _set_budget(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    alloc = a.get("allocations")
    if not isinstance(alloc, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in alloc.values()
    ):
        raise ActionError(INVALID_ACTION, "allocations must map categories to cents")
    validate_allocations(alloc, gross_income(ctx.st))
    ctx.st.allocations = dict(sorted(alloc.items()))
    _once(ctx, "first_budget", 25)
    return {"allocations": ctx.st.allocations}


def _set_autopay(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    card = _card(ctx, _str(a, "account_id"))
    setting = _str(a, "setting")
    creditcard.set_autopay(card, setting)
    if setting != "none":
        _once(ctx, f"autopay:{card.id}", 20)
    return {"account_id": card.id, "setting": setting}


def _pay_card(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    card = _card(ctx, _str(a, "account_id"))
    creditcard.pay_card(ctx, card, _int(a, "amount"))
    return {"balance": card.balance}


def _cash_advance(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    card = _card(ctx, _str(a, "account_id"))
    creditcard.cash_advance(ctx, card, _int(a, "amount"))
    return {"balance": card.balance}


def _open_account(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    kind = _str(a, "account_type")
    st = ctx.st
    if kind == "savings":
        acc = accounts.open_savings(ctx)
    elif kind == "checking":
        unlock = ctx.persona.unlocks.get("checking", 1)
        if st.level < unlock or any(
            x.type == "checking" and x.status != "closed" for x in st.accounts
        ):
            raise ActionError(LOCKED, "checking not available")
        acc = Account(f"acc-{st.next_id}", "checking", opened_day=st.day_number)
        st.next_id += 1
        st.accounts.append(acc)
        prepaid = next(
            (x for x in st.accounts if x.type == "prepaid" and x.status != "closed"), None
        )
        if prepaid is not None and prepaid.balance >= 0:
            # Move the prepaid balance over so salary and bills share one account.
            acc.balance, prepaid.balance = prepaid.balance, 0
            prepaid.status = "closed"
    elif kind in ("credit_card", "secured_card"):
        acc = creditcard.open_card(ctx, kind == "secured_card", bool(a.get("rewards", False)))
    elif kind in ("brokerage", "retirement"):
        acc = invest.open_investment(ctx, kind)
    else:
        raise ActionError(INVALID_ACTION, f"unknown account type {kind}")
    return {"account_id": acc.id, "type": acc.type}


def _close_card(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    creditcard.close_card(ctx, _card(ctx, _str(a, "account_id")))
    return {}


def _overdraft(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    accounts.enable_overdraft(ctx)
    return {}


def _apply_loan(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    return loans.apply_loan(ctx, _str(a, "loan_type"), _int(a, "amount"), _int(a, "term_months"),
                            _int(a, "price", 0), _int(a, "down_payment", 0))  # fmt: skip


def _bnpl(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    acc = loans.bnpl_purchase(
        ctx, _int(a, "amount"), _str(a, "plan"), str(a.get("category", "shopping"))
    )
    return {"account_id": acc.id}


def _order(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    o = invest.place_order(
        ctx, _str(a, "account_id"), _str(a, "asset"), _str(a, "side"), _int(a, "amount")
    )
    return {"order_id": o.id, "status": o.status}


def _cancel_order(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    invest.cancel_order(ctx, _str(a, "order_id"))
    return {"cancelled": True}


def _drip(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    invest.set_drip(ctx, _str(a, "account_id"), _str(a, "asset"), bool(a.get("enabled", True)))
    return {}


def _buy_insurance(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    return {"policy_id": insurance.buy_policy(ctx, _str(a, "policy_type")).id}


def _cancel_insurance(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    insurance.cancel_policy(ctx, _str(a, "policy_id"))
    return {}


def _reinstate(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    insurance.reinstate(ctx, _str(a, "policy_id"))
    return {}


def _claim(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    c = insurance.file_claim(ctx, _str(a, "policy_id"), _str(a, "incident_id"))
    return {"claim_id": c.id, "covered": c.status == "paid", "player_pays": c.player_pays,
            "insurer_pays": c.insurer_pays, "status": c.status}  # fmt: skip


def _dispute(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    c = insurance.resolve_dispute(ctx, _str(a, "claim_id"), _str(a, "choice"))
    return {"claim_id": c.id, "status": c.status}


def _create_goal(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    g = accounts.create_goal(ctx, _str(a, "account_id"), _str(a, "name"), _int(a, "target"),
                             _int(a, "deadline_day", -1))  # fmt: skip
    return {"goal_id": g.id}


def _update_goal(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    target = _int(a, "target") if "target" in a else None
    deadline = _int(a, "deadline_day") if "deadline_day" in a else None
    name = a.get("name") if isinstance(a.get("name"), str) else None
    g = accounts.update_goal(ctx, _str(a, "goal_id"), name, target, deadline)
    return {"goal_id": g.id}


def _delete_goal(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    accounts.delete_goal(ctx, _str(a, "goal_id"))
    return {}


def _difficulty(ctx: Ctx, a: dict[str, Any]) -> dict[str, Any]:
    new = _str(a, "difficulty")
    st = ctx.st
    if new not in ctx.content.difficulties or new == st.difficulty:
        raise ActionError(INVALID_ACTION, "unknown or unchanged difficulty")
    if st.progress.month != 0:
        raise ActionError(LOCKED, "difficulty changes only between levels")
    old_rank = ctx.content.difficulties[st.difficulty].rank
    new_rank = ctx.content.difficulties[new].rank
    if new_rank < old_rank:
        st.easier_mark = True
    st.xp_bonus_pct = 10 if new_rank > old_rank else 0
    st.difficulty = new
    ctx.diff = ctx.content.difficulties[new]
    return {"difficulty": new}


HANDLERS: dict[str, Handler] = {
    "resolve_card": _resolve_card,
    "skip_all_cards": _skip_all,
    "transfer": _transfer,
    "set_budget": _set_budget,
    "set_autopay": _set_autopay,
    "pay_card": _pay_card,
    "cash_advance": _cash_advance,
    "open_account": _open_account,
    "close_card": _close_card,
    "enable_overdraft": _overdraft,
    "apply_loan": _apply_loan,
    "bnpl_purchase": _bnpl,
    "place_order": _order,
    "cancel_order": _cancel_order,
    "set_drip": _drip,
    "buy_insurance": _buy_insurance,
    "cancel_insurance": _cancel_insurance,
    "reinstate_insurance": _reinstate,
    "file_claim": _claim,
    "resolve_dispute": _dispute,
    "create_goal": _create_goal,
    "update_goal": _update_goal,
    "delete_goal": _delete_goal,
    "change_difficulty": _difficulty,
}


def apply_actions(ctx: Ctx, actions: list[dict[str, Any]]) -> Ctx:
    """Apply actions in order on ctx.st (already a private copy)."""
    for action in actions:
        kind = action.get("type") if isinstance(action, dict) else None
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        mark = len(ctx.events)
        snapshot = clone(ctx.st)
        diff = ctx.diff
        try:
            if handler is None:
                raise ActionError(INVALID_ACTION, f"unknown action {kind!r}")
            result = handler(ctx, action)
        except ActionError as err:
            ctx.st = snapshot
            ctx.diff = diff
            del ctx.events[mark:]
            emit(ctx, "ACTION_REJECTED", action=kind, code=err.code, message=err.message)
            continue
        st = ctx.st
        if "first_action" not in st.day_counts:
            st.day_counts["first_action"] = 1
            award_xp(ctx, 5)
        st.state_version += 1
        emit(ctx, "ACTION_ACCEPTED", action=kind, result=result)
    return ctx


def apply_action(
    state: GameState, action: dict[str, Any], content: Content, expected_version: int | None = None
) -> tuple[GameState, dict[str, Any], list[dict[str, Any]]]:
    """Apply one action to a copy of `state`.

    Returns (new_state, outcome, events); outcome is {"status": "accepted",
    "result": ...} or {"status": "rejected", "code": ...}. A rejected action
    returns the original state object unchanged.
    """
    if expected_version is not None and expected_version != state.state_version:
        outcome = {"status": "rejected", "code": STALE_STATE, "state_version": state.state_version}
        return state, outcome, []
    ctx = apply_actions(make_ctx(clone(state), content), [action])
    last = ctx.events[-1]
    if last["type"] == "ACTION_REJECTED":
        return (
            state,
            {"status": "rejected", "code": last["code"], "message": last["message"]},
            ctx.events,
        )
    return ctx.st, {"status": "accepted", "result": last["result"]}, ctx.events
