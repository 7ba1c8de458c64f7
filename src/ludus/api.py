"""The /api/v1 router: each module adds its routers to `ROUTERS`, one line each."""

from __future__ import annotations

from fastapi import APIRouter

from ludus.core.audit.api import router as audit_router
from ludus.core.auth.api import router as auth_router
from ludus.core.events.api import router as events_router
from ludus.core.ledger.api import router as ledger_router
from ludus.core.notifications.api import router as notifications_router
from ludus.core.tenancy.api import router as tenancy_router
from ludus.core.webhooks.api import router as webhooks_router
from ludus.engagement.api import rewards_router, social_router
from ludus.engagement.catalog.api import router as catalog_router
from ludus.engagement.challenges.api import router as challenges_router
from ludus.engagement.leaderboards.api import router as leaderboards_router
from ludus.moneylife.routes import router as moneylife_router
from ludus.paya.admin_api import router as paya_admin_router
from ludus.paya.api import router as paya_router
from ludus.savings.api import router as savings_router
from ludus.savings.api_challenges import router as savings_challenges_router

ROUTERS: list[APIRouter] = [
    tenancy_router,
    auth_router,
    audit_router,
    ledger_router,
    events_router,
    webhooks_router,
    notifications_router,
    savings_router,
    savings_challenges_router,
    paya_router,
    paya_admin_router,
    rewards_router,
    catalog_router,
    social_router,
    challenges_router,
    leaderboards_router,
    moneylife_router,
]

api_router = APIRouter(prefix="/api/v1")
for _router in ROUTERS:
    api_router.include_router(_router)
