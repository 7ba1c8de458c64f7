"""Errors raised by the database at commit time become stable 4xx codes, not 500s."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient

from ludus.app import create_app
from ludus.core.http.session import DbSession
from ludus.core.kit.db import set_system_scope
from ludus.core.kit.errors import ConcurrentUpdate, from_database_error
from ludus.core.tenancy.models import Tenant, TenantKind
from tests.factories import make_tenant


@pytest.fixture
async def commit_client(db) -> AsyncIterator[AsyncClient]:
    app = create_app()
    router = APIRouter()

    @router.post("/api/v1/test/duplicate-tenant/{slug}")
    async def duplicate(slug: str, session: DbSession) -> dict[str, str]:
        await set_system_scope(session)
        # Not flushed here: the unique violation only happens when the middleware commits.
        session.add(
            Tenant(
                id=uuid.uuid4(),
                slug=slug,
                name="dup",
                kind=TenantKind.chama,
                theme={},
                features={},
                config={},
                products=[],
            )
        )
        return {"status": "queued"}

    app.include_router(router)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        yield client


class TestCommitTimeErrors:
    async def test_unique_violation_at_commit_is_409(self, commit_client: AsyncClient, db) -> None:
        tenant = await make_tenant(db)
        resp = await commit_client.post(f"/api/v1/test/duplicate-tenant/{tenant.slug}")
        assert resp.status_code == 409
        body = resp.json()
        assert body["error"]["code"] == "CONFLICT"
        assert body["error"]["details"] == {"constraint": "uq_tenants_slug"}

    async def test_serialization_failures_map_to_retryable_409(self) -> None:
        class Orig(Exception):
            sqlstate = "40001"

        class Wrapped(Exception):
            orig = Orig()

        assert isinstance(from_database_error(Wrapped()), ConcurrentUpdate)
        assert from_database_error(RuntimeError("not a database error")) is None
