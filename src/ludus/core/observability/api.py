"""Liveness, readiness and metrics endpoints (outside /api/v1, no envelope)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from ludus.core.kit.db import get_database
from ludus.core.observability import metrics

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready() -> JSONResponse:
    try:
        async with get_database().engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse(
            {"status": "unavailable", "checks": {"database": type(exc).__name__}}, status_code=503
        )
    return JSONResponse({"status": "ok", "checks": {"database": "ok"}})


@router.get("/metrics", include_in_schema=False)
async def prometheus() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
