"""Game routes for investments, insurance and loans (spec 000 §4.2)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from ludus.core.http.session import DbSession
from ludus.core.kit.schemas import Envelope, ok
from ludus.moneylife import gameplay, repository, service
from ludus.moneylife import models as m
from ludus.moneylife.auth import CurrentPlayer
from ludus.moneylife.schemas import (
    CancelOut,
    ClaimIn,
    ClaimOut,
    ClaimResult,
    HoldingOut,
    InvestmentsOut,
    LoanIn,
    LoanOut,
    OrderIn,
    OrderOut,
    OrderView,
)

router = APIRouter(prefix="/game", tags=["moneylife"])


@router.get("/{game_id}/investments", response_model=Envelope[InvestmentsOut])
async def investments(game_id: uuid.UUID, player: CurrentPlayer, session: DbSession) -> Any:
    loaded = await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)
    rows = await repository.rows_of(
        session, m.Holding, player.tenant_id, game_id, m.Holding.account_id, m.Holding.asset_type
    )
    holdings = [HoldingOut.model_validate(r) for r in rows]
    orders = [
        OrderView(
            order_id=o.id,
            account_id=o.account_id,
            asset_type=o.asset,
            action=o.side,
            amount=o.amount,
            status=o.status,
        )
        for o in loaded.state.orders
        if o.status == "queued"
    ]
    return ok(
        InvestmentsOut(
            holdings=holdings,
            total_value=sum(h.current_value for h in holdings),
            total_gain_loss=sum(h.current_value - h.cost_basis for h in holdings),
            orders=orders,
        )
    )


@router.post("/{game_id}/investments/order", response_model=Envelope[OrderOut], status_code=201)
async def order(
    game_id: uuid.UUID, body: OrderIn, player: CurrentPlayer, session: DbSession
) -> Any:
    act = {
        "type": "place_order",
        "account_id": body.account_id,
        "asset": body.asset_type,
        "side": body.action,
        "amount": body.amount,
    }
    loaded, step = await gameplay.perform(
        session, player, game_id, act, expected_version=body.state_version
    )
    return ok(
        OrderOut(
            order_id=step.result["order_id"],
            status=step.result["status"],
            executes_on=gameplay.next_trading_date(loaded),
            state_version=step.state.state_version,
        )
    )


@router.delete("/{game_id}/investments/order/{order_id}", response_model=Envelope[CancelOut])
async def cancel_order(
    game_id: uuid.UUID, order_id: str, player: CurrentPlayer, session: DbSession
) -> Any:
    act = {"type": "cancel_order", "order_id": order_id}
    _, step = await gameplay.perform(session, player, game_id, act, expected_version=None)
    return ok(CancelOut(cancelled=True, state_version=step.state.state_version))


@router.post("/{game_id}/insurance/{policy_id}/claim", response_model=Envelope[ClaimOut])
async def claim(
    game_id: uuid.UUID, policy_id: str, body: ClaimIn, player: CurrentPlayer, session: DbSession
) -> Any:
    act = {"type": "file_claim", "policy_id": policy_id, "incident_id": body.event_id}
    _, step = await gameplay.perform(
        session, player, game_id, act, expected_version=body.state_version
    )
    res = step.result
    policy = next(p for p in step.state.policies if p.id == policy_id)
    return ok(
        ClaimOut(
            claim_result=ClaimResult(
                claim_id=res["claim_id"],
                covered=res["covered"],
                deductible=policy.deductible,
                player_pays=res["player_pays"],
                insurer_pays=res["insurer_pays"],
                status=res["status"],
            ),
            state_version=step.state.state_version,
        )
    )


@router.post("/{game_id}/loan/apply", response_model=Envelope[LoanOut])
async def apply_loan(
    game_id: uuid.UUID, body: LoanIn, player: CurrentPlayer, session: DbSession
) -> Any:
    act = {
        "type": "apply_loan",
        "loan_type": body.type,
        "amount": body.amount,
        "term_months": body.term_months,
        "price": body.price,
        "down_payment": body.down_payment,
    }
    _, step = await gameplay.perform(
        session, player, game_id, act, expected_version=body.state_version
    )
    res = dict(step.result)
    approved = bool(res.pop("approved", False))
    if not approved:
        return ok(
            LoanOut(
                approved=False,
                denial_reason=str(res.get("denial_reason")),
                state_version=step.state.state_version,
            )
        )
    return ok(LoanOut(approved=True, loan_details=res, state_version=step.state.state_version))
