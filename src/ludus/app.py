"""Application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import BaseRoute

from ludus import __version__
from ludus.core.auth.principal_cache import PrincipalListener
from ludus.core.auth.wellknown import router as wellknown_router
from ludus.core.http.errors import install_error_handlers
from ludus.core.http.middleware import (
    BodyLimitMiddleware,
    RateLimitMiddleware,
    RequestContextMiddleware,
    TransactionMiddleware,
)
from ludus.core.http.openapi import install_openapi
from ludus.core.http.routing import install_route_index
from ludus.core.kit.db import Database, get_database, set_database
from ludus.core.kit.settings import Settings, get_settings
from ludus.core.observability.api import router as health_router
from ludus.core.observability.logging import configure_logging

DESCRIPTION = """
Ludus runs five gamified-money products (MoneyLife, Savings challenges, PaYa, Loyalty,
CLASSIFY) on one shared core. Every response uses the envelope
`{"success": true, "data": ...}` or `{"success": false, "error": {code, message, details}}`;
the full list of error codes is in `x-error-codes`.
"""


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_json)
        owned = database is None and _no_database()
        db = database or get_database()
        set_database(db)
        listener = PrincipalListener(db.url)
        listener.start()
        worker = None
        if settings.run_worker_in_process:
            from ludus.core.jobs.worker import InProcessWorker

            worker = InProcessWorker(db)
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await listener.stop()
            if owned:
                await db.dispose()
                set_database(None)

    app = FastAPI(
        title="Ludus API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_openapi(app)
    # Added innermost first: the last added runs first.
    app.add_middleware(TransactionMiddleware)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)

    from ludus.api import api_router

    app.include_router(health_router)
    app.include_router(wellknown_router)
    app.include_router(api_router)
    install_route_index(app.router)
    return app


def route_table(app: FastAPI) -> list[tuple[str, BaseRoute]]:
    """(full path template, route) for every route of the app.

    FastAPI is pinned below 0.137, where `include_router` copies routes with their full
    path; later versions resolve included routers on every request, which cost a third of
    the Python calls of a small request.
    """
    return [(str(getattr(route, "path", "")), route) for route in app.routes]


def _no_database() -> bool:
    from ludus.core.kit import db as db_module

    return db_module._db is None
