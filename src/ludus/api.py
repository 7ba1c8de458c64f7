"""The /api/v1 router: each module contributes its routers here, one line each."""

from __future__ import annotations

from fastapi import APIRouter

from ludus.core.audit.api import router as audit_router
from ludus.core.auth.api import router as auth_router
from ludus.core.events.api import router as events_router
from ludus.core.ledger.api import router as ledger_router
from ludus.core.notifications.api import router as notifications_router
from ludus.core.tenancy.api import router as tenancy_router
from ludus.core.webhooks.api import router as webhooks_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(tenancy_router)
api_router.include_router(auth_router)
api_router.include_router(audit_router)
api_router.include_router(ledger_router)
api_router.include_router(events_router)
api_router.include_router(webhooks_router)
api_router.include_router(notifications_router)
from ludus.savings.api import router as savings_router  # noqa: E402
from ludus.savings.api_challenges import router as savings_challenges_router  # noqa: E402

api_router.include_router(savings_router)
api_router.include_router(savings_challenges_router)
from ludus.paya.admin_api import router as paya_admin_router  # noqa: E402
from ludus.paya.api import router as paya_router  # noqa: E402

api_router.include_router(paya_router)
api_router.include_router(paya_admin_router)
from ludus.engagement.api import rewards_router, social_router  # noqa: E402
from ludus.engagement.catalog.api import router as catalog_router  # noqa: E402
from ludus.engagement.challenges.api import router as challenges_router  # noqa: E402
from ludus.engagement.leaderboards.api import router as leaderboards_router  # noqa: E402

api_router.include_router(rewards_router)
api_router.include_router(catalog_router)
api_router.include_router(social_router)
api_router.include_router(challenges_router)
api_router.include_router(leaderboards_router)
from ludus.moneylife.routes import router as moneylife_router  # noqa: E402

api_router.include_router(moneylife_router)
