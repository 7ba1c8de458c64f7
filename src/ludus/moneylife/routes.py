"""Every MoneyLife router, included once in the /api/v1 router."""

from __future__ import annotations

from fastapi import APIRouter

from ludus.moneylife import api, api_products

router = APIRouter()
router.include_router(api_products.router)
router.include_router(api.router)
