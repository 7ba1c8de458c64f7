"""MoneyLife jobs and event handlers.

* `moneylife.month_end_batch`: one month-end batch (see monthend.py).
* `moneylife.rewards`: the XP and coins a game step earned (`xp_award`, `coins_award` on the
  step's first event) go to the player's engagement profile and coin wallet (on the ledger),
  once per event.
  On game creation and month-end it also sets the net worth, CHI and budget score boards
  (XP boards are fed by the engagement kit itself) and the facts engagement levels read.
Streaks, challenges (weekly, monthly, seasonal, classroom, head-to-head) and badges come
from the engagement kit's own `engagement.ingest` handler, which reads every `game.*` event.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.registry import handler
from ludus.core.events.schemas import Event
from ludus.core.jobs.registry import Backoff, job
from ludus.core.kit.db import get_database
from ludus.engagement import coins, service
from ludus.engagement.leaderboards.service import backend_for, submit_metric
from ludus.moneylife import events as ev
from ludus.moneylife import monthend

METRICS = (("net_worth", "net_worth"), ("chi", "chi_score"), ("budget", "budget_score"))


@job(monthend.BATCH_TASK, queue=monthend.QUEUE, retry=Backoff(max_tries=5, base_seconds=5))
async def month_end_batch(run_id: str, batch_no: int) -> None:
    await monthend.process_batch(get_database(), uuid.UUID(run_id), batch_no)


@handler(
    ev.CARD_RESOLVED,
    ev.DAY_ADVANCED,
    ev.MONTH_ENDED,
    ev.LEVEL_UP,
    ev.COMPLETED,
    ev.BANKRUPTCY,
    name="moneylife.rewards",
)
async def mirror_rewards(session: AsyncSession, event: Event) -> None:
    tenant, user = event.tenant_id, event.data.get("user_id")
    if tenant is None or not user:
        return
    user_id = uuid.UUID(str(user))
    xp = int(event.data.get("xp_award") or 0)
    earned = int(event.data.get("coins_award") or 0)
    if xp > 0:
        await service.award_xp(
            session,
            tenant_id=tenant,
            user_id=user_id,
            product=ev.PRODUCT,
            amount=xp,
            reason=event.event_type,
            at=event.timestamp,
        )
    if earned > 0:
        await coins.earn(
            session,
            tenant_id=tenant,
            user_id=user_id,
            amount=earned,
            reason=event.event_type,
            reference=str(event.data.get("game_id")),
            idempotency_key=f"moneylife:{event.event_id}",
            enforce_limits=False,
        )


async def update_boards(session: AsyncSession, event: Event) -> None:
    tenant, user = event.tenant_id, event.data.get("user_id")
    if tenant is None or not user:
        return
    user_id = uuid.UUID(str(user))
    report = event.data.get("report") or {
        "net_worth": event.data.get("net_worth", 0),
        "chi_score": event.data.get("chi", 0),
        "budget_score": 0,
    }
    backend = backend_for(session)
    for metric, key in METRICS:
        await submit_metric(
            backend,
            tenant_id=tenant,
            metric=metric,
            member_id=user_id,
            value=int(report.get(key, 0)),
            at=event.timestamp,
            mode="set",
        )
    if event.event_type == ev.MONTH_ENDED:
        await service.update_facts(
            session,
            tenant_id=tenant,
            user_id=user_id,
            product=ev.PRODUCT,
            facts={
                "net_worth": report["net_worth"],
                "chi": report["chi_score"],
                "moneylife_level": int(report.get("level", 1)),
            },
        )
