"""Every MoneyLife router, included once in the /api/v1 router."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ludus.core.http.session import DbSession
from ludus.core.kit.schemas import Envelope, ok
from ludus.moneylife import api, api_admin, api_products, api_social, sync
from ludus.moneylife.auth import CurrentPlayer

sync_router = APIRouter(tags=["moneylife"])


@sync_router.post("/sync", response_model=Envelope[sync.SyncOut])
async def post_sync(body: sync.SyncIn, player: CurrentPlayer, session: DbSession) -> Any:
    """Offline sync (spec 000 §4.7): replays queued actions with the §9.2 rules."""
    return ok(await sync.sync(session, player, body))


router = APIRouter()
router.include_router(api_products.router)
router.include_router(api.router)
router.include_router(sync_router)
router.include_router(api_admin.router)
router.include_router(api_social.router)
router.include_router(api_social.partner_router)
