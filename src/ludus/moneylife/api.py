"""Game routes (spec 000 §4.2) under /api/v1/game."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from ludus.core.http.session import DbSession
from ludus.core.kit.errors import NotFound
from ludus.core.kit.pagination import PageQuery, paginated
from ludus.core.kit.schemas import Envelope, PageEnvelope, ok
from ludus.moneylife import gameplay, repository, service, views
from ludus.moneylife import models as m
from ludus.moneylife.auth import CurrentPlayer
from ludus.moneylife.engine.budget import month_score
from ludus.moneylife.projections import month_start
from ludus.moneylife.schemas import (
    AccountOut,
    AccountsOut,
    ActionIn,
    ActionOut,
    AdvanceIn,
    AdvanceOut,
    AutoPayIn,
    BudgetCurrentOut,
    BudgetIn,
    BudgetOut,
    CardDecisionIn,
    CardDecisionOut,
    ChiHistoryOut,
    ChiPoint,
    CreateGameIn,
    CreateGameOut,
    GameListItem,
    GameView,
    GoalEnvelope,
    GoalIn,
    GoalOut,
    GoalUpdateIn,
    ReportOut,
    ReportsOut,
    ReportSummary,
    SummaryOut,
    TransactionOut,
    TransferIn,
    TransferOut,
)

router = APIRouter(prefix="/game", tags=["moneylife"])
GameId = uuid.UUID


@router.post("/create", response_model=Envelope[CreateGameOut], status_code=201)
async def create(body: CreateGameIn, player: CurrentPlayer, session: DbSession) -> Any:
    game_id, _ = await service.new_game(
        session,
        tenant_id=player.tenant_id,
        user_id=player.user_id,
        persona=body.persona,
        difficulty=body.difficulty,
        currency_code=body.currency_code,
    )
    loaded = await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)
    return ok(CreateGameOut(game_id=game_id, initial_state=views.game_view(loaded, loaded.state)))


@router.get("/mine", response_model=Envelope[list[GameListItem]])
async def my_games(player: CurrentPlayer, session: DbSession) -> Any:
    rows = await repository.user_games(session, player.tenant_id, player.user_id)
    return ok([GameListItem.model_validate(r) for r in rows])


@router.get("/{game_id}", response_model=Envelope[GameView])
async def get_game(game_id: GameId, player: CurrentPlayer, session: DbSession) -> Any:
    loaded = await gameplay.load_for(session, player, game_id)
    return ok(views.game_view(loaded, loaded.state, loaded.row.state_checksum))


@router.get("/{game_id}/summary", response_model=Envelope[SummaryOut])
async def summary(game_id: GameId, player: CurrentPlayer, session: DbSession) -> Any:
    loaded = await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)
    return ok(views.summary(loaded))


@router.post("/{game_id}/advance-day", response_model=Envelope[AdvanceOut])
async def advance_day(
    game_id: GameId, body: AdvanceIn, player: CurrentPlayer, session: DbSession
) -> Any:
    out = await gameplay.advance(
        session, player, game_id, body.current_game_date, body.state_version
    )
    return ok(out)


@router.post("/{game_id}/card-decision", response_model=Envelope[CardDecisionOut])
async def card_decision(
    game_id: GameId, body: CardDecisionIn, player: CurrentPlayer, session: DbSession
) -> Any:
    out = await gameplay.card_decision(
        session, player, game_id, body.card_instance_id, body.selected_option_id, body.state_version
    )
    return ok(out)


@router.post("/{game_id}/actions", response_model=Envelope[ActionOut])
async def action(game_id: GameId, body: ActionIn, player: CurrentPlayer, session: DbSession) -> Any:
    """Any of the engine's 24 action types (open an account, buy insurance, pay a card...)."""
    _, step = await gameplay.perform(
        session, player, game_id, body.action, expected_version=body.state_version
    )
    return ok(ActionOut(result=step.result, state_version=step.state.state_version))


@router.get("/{game_id}/accounts", response_model=Envelope[AccountsOut])
async def accounts(game_id: GameId, player: CurrentPlayer, session: DbSession) -> Any:
    await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)
    rows = await repository.rows_of(
        session,
        m.GameAccount,
        player.tenant_id,
        game_id,
        m.GameAccount.opened_game_date,
        m.GameAccount.id,
    )
    return ok(AccountsOut(accounts=[AccountOut.model_validate(r) for r in rows]))


@router.post("/{game_id}/accounts/{account_id}/transfer", response_model=Envelope[TransferOut])
async def transfer(
    game_id: GameId, account_id: str, body: TransferIn, player: CurrentPlayer, session: DbSession
) -> Any:
    act = {
        "type": "transfer",
        "from_account": account_id,
        "to_account": body.to_account_id,
        "amount": body.amount,
    }
    _, step = await gameplay.perform(
        session, player, game_id, act, expected_version=body.state_version
    )
    return ok(TransferOut(**step.result, state_version=step.state.state_version))


@router.post("/{game_id}/accounts/{account_id}/auto-pay", status_code=204)
async def auto_pay(
    game_id: GameId, account_id: str, body: AutoPayIn, player: CurrentPlayer, session: DbSession
) -> Response:
    act = {"type": "set_autopay", "account_id": account_id, "setting": body.setting}
    await gameplay.perform(session, player, game_id, act, expected_version=body.state_version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{game_id}/transactions", response_model=PageEnvelope[TransactionOut])
async def transactions(
    game_id: GameId,
    player: CurrentPlayer,
    session: DbSession,
    page: PageQuery,
    account_id: Annotated[str | None, Query(max_length=32)] = None,
    from_date: date | None = None,
    to_date: date | None = None,
    category: Annotated[str | None, Query(max_length=24)] = None,
) -> Any:
    await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)
    rows, total = await repository.transactions(
        session,
        player.tenant_id,
        game_id,
        account_id=account_id,
        from_date=from_date,
        to_date=to_date,
        category=category,
        offset=page.offset,
        limit=page.limit,
    )
    return paginated([TransactionOut.model_validate(r) for r in rows], total, page)


@router.post("/{game_id}/budget", response_model=Envelope[BudgetOut])
async def set_budget(
    game_id: GameId, body: BudgetIn, player: CurrentPlayer, session: DbSession
) -> Any:
    act = {"type": "set_budget", "allocations": body.allocations}
    _, step = await gameplay.perform(
        session, player, game_id, act, expected_version=body.state_version
    )
    st = step.state
    month = month_start(st.year, st.month)
    return ok(
        BudgetOut(
            budget_id=f"{game_id}:{month:%Y-%m}",
            game_month=month,
            allocations=st.allocations,
            state_version=st.state_version,
        )
    )


@router.get("/{game_id}/budget/current", response_model=Envelope[BudgetCurrentOut])
async def current_budget(game_id: GameId, player: CurrentPlayer, session: DbSession) -> Any:
    loaded = await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)
    st = loaded.state
    return ok(
        BudgetCurrentOut(
            game_month=month_start(st.year, st.month),
            allocations=st.allocations,
            actuals=st.actuals,
            score=month_score(st.allocations, st.actuals),
        )
    )


@router.get("/{game_id}/reports", response_model=Envelope[ReportsOut])
async def reports(game_id: GameId, player: CurrentPlayer, session: DbSession) -> Any:
    await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)
    rows = await repository.rows_of(
        session, m.MonthlyReport, player.tenant_id, game_id, m.MonthlyReport.game_month
    )
    return ok(ReportsOut(reports=[ReportSummary.model_validate(r) for r in rows]))


@router.get("/{game_id}/reports/{game_month}", response_model=Envelope[ReportOut])
async def report(
    game_id: GameId, game_month: str, player: CurrentPlayer, session: DbSession
) -> Any:
    await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)
    try:
        month = date.fromisoformat(game_month[:7] + "-01")
    except ValueError as exc:
        raise NotFound("Use a game month like 2027-03.") from exc
    rows = await repository.rows_of(session, m.MonthlyReport, player.tenant_id, game_id)
    found = next((r for r in rows if r.game_month == month), None)
    if found is None:
        raise NotFound("No report for that month.")
    return ok(ReportOut.model_validate(found))


@router.post("/{game_id}/savings-goals", response_model=Envelope[GoalEnvelope], status_code=201)
async def create_goal(
    game_id: GameId, body: GoalIn, player: CurrentPlayer, session: DbSession
) -> Any:
    def act(loaded: service.Loaded) -> dict[str, Any]:
        return {
            "type": "create_goal",
            "account_id": body.account_id,
            "name": body.name,
            "target": body.target_amount,
            "deadline_day": gameplay.day_number_of(loaded, body.deadline),
        }

    _, step = await gameplay.perform(
        session, player, game_id, act, expected_version=body.state_version
    )
    return ok(await _goal(session, player, game_id, step.result["goal_id"], step))


@router.put("/{game_id}/savings-goals/{goal_id}", response_model=Envelope[GoalEnvelope])
async def update_goal(
    game_id: GameId, goal_id: str, body: GoalUpdateIn, player: CurrentPlayer, session: DbSession
) -> Any:
    def act(loaded: service.Loaded) -> dict[str, Any]:
        a: dict[str, Any] = {"type": "update_goal", "goal_id": goal_id}
        if body.name is not None:
            a["name"] = body.name
        if body.target_amount is not None:
            a["target"] = body.target_amount
        if body.deadline is not None:
            a["deadline_day"] = gameplay.day_number_of(loaded, body.deadline)
        return a

    _, step = await gameplay.perform(
        session, player, game_id, act, expected_version=body.state_version
    )
    return ok(await _goal(session, player, game_id, goal_id, step))


@router.delete("/{game_id}/savings-goals/{goal_id}", status_code=204)
async def delete_goal(
    game_id: GameId, goal_id: str, player: CurrentPlayer, session: DbSession
) -> Response:
    act = {"type": "delete_goal", "goal_id": goal_id}
    await gameplay.perform(session, player, game_id, act, expected_version=None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _goal(
    session: DbSession, player: gameplay.Player, game_id: uuid.UUID, goal_id: str, step: Any
) -> GoalEnvelope:
    rows = await repository.rows_of(session, m.SavingsGoal, player.tenant_id, game_id)
    row = next(r for r in rows if r.id == goal_id)
    return GoalEnvelope(goal=GoalOut.model_validate(row), state_version=step.state.state_version)


@router.get("/{game_id}/chi-history", response_model=Envelope[ChiHistoryOut])
async def chi_history(game_id: GameId, player: CurrentPlayer, session: DbSession) -> Any:
    await service.load(session, player.tenant_id, game_id, player.user_id, lock=False)
    rows = await repository.rows_of(
        session, m.ChiHistory, player.tenant_id, game_id, m.ChiHistory.game_month
    )
    return ok(ChiHistoryOut(history=[ChiPoint.model_validate(r) for r in rows]))
