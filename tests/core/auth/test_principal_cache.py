"""The principal cache: repeated requests skip the session/tenant query, yet a revocation or
a suspension made anywhere (this process or another) is honoured."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from httpx import AsyncClient
from sqlalchemy import event

from ludus.core.auth import principal_cache
from ludus.core.auth.models import Role
from ludus.core.auth.principal_cache import PrincipalCache, PrincipalListener
from ludus.core.kit.db import Database
from tests.factories import make_actor, make_tenant


@pytest.fixture
async def listening(db: Database) -> AsyncIterator[PrincipalListener]:
    listener = PrincipalListener(db.url)
    listener.start()
    await asyncio.wait_for(listener.listening.wait(), 10)
    yield listener
    await listener.stop()


def _key() -> principal_cache.Key:
    return (uuid.uuid4(), uuid.uuid4(), uuid.uuid4())


async def _other_process(db: Database, sql: str, *params: object) -> None:
    """A change made outside this process's SQLAlchemy engine (as the CLI or a worker would)."""
    async with await psycopg.AsyncConnection.connect(db.url, autocommit=True) as conn:
        await conn.execute(sql, params)


async def _until(predicate, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


class TestCacheRules:
    def test_answers_nothing_while_disabled(self) -> None:
        cache = PrincipalCache()
        key = _key()
        cache.confirm(key, cache.generation)
        assert not cache.confirmed(key)

    def test_answer_read_before_a_clear_is_not_stored(self) -> None:
        cache = PrincipalCache()
        cache.set_enabled(True)
        key = _key()
        before = cache.generation
        cache.clear()  # a revocation was heard while the request was checking
        cache.confirm(key, before)
        assert not cache.confirmed(key)
        cache.confirm(key, cache.generation)
        assert cache.confirmed(key)

    def test_entries_expire(self) -> None:
        cache = PrincipalCache(ttl=-1)
        cache.set_enabled(True)
        key = _key()
        cache.confirm(key, cache.generation)
        assert not cache.confirmed(key)

    def test_size_is_bounded(self) -> None:
        cache = PrincipalCache(size=2)
        cache.set_enabled(True)
        keys = [_key() for _ in range(3)]
        for key in keys:
            cache.confirm(key, cache.generation)
        assert [cache.confirmed(k) for k in keys] == [False, True, True]


class TestListener:
    async def test_enabled_only_while_listening(self, db: Database) -> None:
        listener = PrincipalListener(db.url, target=PrincipalCache())
        assert not listener.target.enabled
        listener.start()
        await asyncio.wait_for(listener.listening.wait(), 10)
        assert listener.target.enabled
        await listener.stop()
        assert not listener.target.enabled

    async def test_unreachable_database_keeps_it_disabled(self) -> None:
        target = PrincipalCache()
        listener = PrincipalListener(
            "postgresql://nobody@127.0.0.1:1/none", target=target, retry_seconds=0.05
        )
        listener.start()
        await asyncio.sleep(0.3)
        assert not target.enabled and not listener.listening.is_set()
        await listener.stop()

    @pytest.mark.parametrize(
        "sql",
        [
            "UPDATE auth_sessions SET revoked_at = now() WHERE id = %s",
            "UPDATE tenants SET status = status WHERE id = %s",
        ],
    )
    async def test_a_change_in_another_process_clears_it(self, db: Database, sql: str) -> None:
        target = PrincipalCache()
        listener = PrincipalListener(db.url, target=target)
        listener.start()
        await asyncio.wait_for(listener.listening.wait(), 10)
        key = _key()
        target.confirm(key, target.generation)
        assert target.confirmed(key)
        await _other_process(db, sql, uuid.uuid4())

        async def forgotten() -> bool:
            return not target.confirmed(key)

        await _until(forgotten)
        await listener.stop()


class TestRequests:
    async def test_repeated_reads_skip_the_session_query(
        self, db: Database, client: AsyncClient, listening: PrincipalListener
    ) -> None:
        actor = await make_actor(db, await make_tenant(db))
        statements: list[str] = []

        def record(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(db.engine.sync_engine, "before_cursor_execute", record)
        try:
            for _ in range(3):
                assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 200
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", record)
        checks = [s for s in statements if "auth_sessions" in s]
        assert len(checks) == 1, statements

    async def test_a_cached_read_needs_no_session_at_all(
        self, db: Database, client: AsyncClient, listening: PrincipalListener
    ) -> None:
        actor = await make_actor(db, await make_tenant(db))
        assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 200
        began: list[object] = []

        def record(conn: object) -> None:
            began.append(conn)

        event.listen(db.engine.sync_engine, "begin", record)
        try:
            resp = await client.get("/api/v1/me", headers=actor.headers)
        finally:
            event.remove(db.engine.sync_engine, "begin", record)
        assert resp.status_code == 200 and began == []
        assert resp.json()["data"]["user"]["id"] == str(actor.user.id)

    async def test_a_system_admin_reads_their_profile(
        self, db: Database, client: AsyncClient, listening: PrincipalListener
    ) -> None:
        admin = await make_actor(db, None, Role.system_admin)
        for _ in range(2):  # checked, then cached
            resp = await client.get("/api/v1/me", headers=admin.headers)
            assert resp.status_code == 200, resp.text
            data = resp.json()["data"]
            assert (data["user"]["id"], data["tenant_id"]) == (str(admin.user.id), None)

    async def test_logout_is_refused_at_once(
        self, db: Database, client: AsyncClient, listening: PrincipalListener
    ) -> None:
        actor = await make_actor(db, await make_tenant(db))
        assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 200
        assert (await client.post("/api/v1/auth/logout", headers=actor.headers)).status_code == 204
        assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 401

    async def test_revocation_by_another_process_is_refused(
        self, db: Database, client: AsyncClient, listening: PrincipalListener
    ) -> None:
        actor = await make_actor(db, await make_tenant(db))
        assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 200
        await _other_process(
            db, "UPDATE auth_sessions SET revoked_at = now() WHERE user_id = %s", actor.user.id
        )

        async def refused() -> bool:
            return (await client.get("/api/v1/me", headers=actor.headers)).status_code == 401

        await _until(refused)

    async def test_suspension_by_another_process_is_refused(
        self, db: Database, client: AsyncClient, listening: PrincipalListener
    ) -> None:
        tenant = await make_tenant(db)
        actor = await make_actor(db, tenant)
        assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 200
        await _other_process(db, "UPDATE tenants SET status = 'suspended' WHERE id = %s", tenant.id)

        async def refused() -> bool:
            resp = await client.get("/api/v1/me", headers=actor.headers)
            return resp.status_code == 403 and resp.json()["error"]["code"] == "TENANT_SUSPENDED"

        await _until(refused)
