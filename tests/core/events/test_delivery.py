"""Outbox delivery: retries, idempotency, dead letters, replay and crash safety."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit.models import AuditEvent
from ludus.core.audit.service import record as audit_record
from ludus.core.events import deadletters
from ludus.core.events.models import DeadLetter, DeadLetterStatus, HandlerRun, OutboxEvent
from ludus.core.events.registry import handler
from ludus.core.events.schemas import Event
from ludus.core.events.service import (
    HANDLE_TASK,
    NewEvent,
    emit,
    emit_many,
    handler_job_args,
)
from ludus.core.jobs.app import open_app
from ludus.core.jobs.defer import defer
from ludus.core.jobs.runner import run_pending
from ludus.core.jobs.tasks import recover_stalled_jobs
from ludus.core.kit.db import Database
from tests.factories import make_tenant

tries: Counter[uuid.UUID] = Counter()
seen: list[Event] = []
healed: set[uuid.UUID] = set()


async def _effect(session: AsyncSession, event: Event, action: str) -> None:
    await audit_record(
        session,
        action=action,
        tenant_id=event.tenant_id,
        target_type="event",
        target_id=event.event_id,
    )


@handler("test_events.flaky", name="tests.flaky")
async def flaky(session: AsyncSession, event: Event) -> None:
    tries[event.event_id] += 1
    await _effect(session, event, "tests.flaky.effect")
    if tries[event.event_id] <= 2:
        raise RuntimeError(f"flaky failure {tries[event.event_id]}")


@handler("test_events.broken", name="tests.broken")
async def broken(session: AsyncSession, event: Event) -> None:
    tries[event.event_id] += 1
    await _effect(session, event, "tests.broken.effect")
    if event.event_id not in healed:
        raise ValueError("always broken")


@handler("test_events.plain", "test_events.other", name="tests.plain")
async def plain(session: AsyncSession, event: Event) -> None:
    seen.append(event)
    await _effect(session, event, "tests.plain.effect")


async def _effects(db: Database, action: str, event_id: uuid.UUID) -> int:
    async with db.session(system=True) as s:
        return (
            await s.scalar(
                select(func.count()).where(
                    AuditEvent.action == action, AuditEvent.target_id == str(event_id)
                )
            )
            or 0
        )


async def _emit(
    db: Database, event_type: str, tenant_id: uuid.UUID | None, **data: object
) -> uuid.UUID:
    async with db.session(tenant_id=tenant_id, system=tenant_id is None) as s:
        return await emit(
            s, event_type=event_type, tenant_id=tenant_id, data=dict(data), source="tests"
        )


class TestEmit:
    async def test_outbox_row_has_spec_schema(self, db: Database) -> None:
        tenant = await make_tenant(db)
        event_id = await _emit(db, "test_events.plain", tenant.id, user_id=uuid.uuid4(), n=5)
        async with db.session(tenant_id=tenant.id) as s:
            row = await s.get(OutboxEvent, event_id)
        assert row is not None
        assert row.event_type == "test_events.plain"
        assert row.version == "1.0"
        assert row.source == "tests"
        assert row.data["n"] == 5 and isinstance(row.data["user_id"], str)
        assert set(row.event_metadata) == {"correlation_id", "trace_id"}

    async def test_rolled_back_emit_leaves_no_event_and_no_job(self, db: Database) -> None:
        tenant = await make_tenant(db)
        async with db.sessionmaker() as s:
            s.info["tenant_id"] = tenant.id
            event_id = await emit(
                s, event_type="test_events.plain", tenant_id=tenant.id, data={}, source="tests"
            )
            await s.rollback()
        async with db.session(system=True) as s:
            assert await s.get(OutboxEvent, event_id) is None
            jobs = await s.scalar(
                text("SELECT count(*) FROM procrastinate_jobs WHERE args->>'event_id' = :e"),
                {"e": str(event_id)},
            )
        assert jobs == 0

    async def test_correlation_defaults_to_request_id(self, db: Database) -> None:
        from ludus.core.kit import context

        token = context.request_id_var.set("req-abc")
        try:
            event_id = await _emit(db, "test_events.plain", None)
        finally:
            context.request_id_var.reset(token)
        async with db.session(system=True) as s:
            row = await s.get(OutboxEvent, event_id)
        assert row is not None and row.event_metadata["correlation_id"] == "req-abc"

    async def test_bad_event_type_is_refused(self, db: Database) -> None:
        import pytest

        with pytest.raises(ValueError):
            await _emit(db, "NoDots", None)


class TestEmitMany:
    async def test_batch_writes_every_event_and_delivers_each(self, db: Database) -> None:
        tenant = await make_tenant(db)
        async with db.session(tenant_id=tenant.id) as s:
            ids = await emit_many(
                s,
                [NewEvent("test_events.plain", tenant.id, {"k": i}, "tests") for i in range(3)]
                + [NewEvent("test_events.unhandled", tenant.id, {}, "tests")],
            )
        assert len(set(ids)) == 4
        await run_pending(db)
        for event_id in ids[:3]:
            assert await _effects(db, "tests.plain.effect", event_id) == 1
        async with db.session(tenant_id=tenant.id) as s:
            stored = await s.scalar(select(func.count()).where(OutboxEvent.id.in_(ids)))
        assert stored == 4


class TestDelivery:
    async def test_handler_runs_once_per_matching_type(self, db: Database) -> None:
        tenant = await make_tenant(db)
        first = await _emit(db, "test_events.plain", tenant.id, k=1)
        second = await _emit(db, "test_events.other", tenant.id, k=2)
        await run_pending(db)
        by_id = {e.event_id: e for e in seen}
        assert by_id[first].data == {"k": 1} and by_id[first].tenant_id == tenant.id
        assert by_id[second].event_type == "test_events.other"
        assert await _effects(db, "tests.plain.effect", first) == 1
        assert await _effects(db, "tests.plain.effect", second) == 1

    async def test_fails_twice_then_succeeds_once(self, db: Database) -> None:
        tenant = await make_tenant(db)
        event_id = await _emit(db, "test_events.flaky", tenant.id)
        await run_pending(db)
        assert tries[event_id] == 3
        # failed tries rolled back their effects; the successful one committed exactly once
        assert await _effects(db, "tests.flaky.effect", event_id) == 1
        async with db.session(system=True) as s:
            runs = await s.scalar(
                select(func.count()).where(
                    HandlerRun.event_id == event_id, HandlerRun.handler == "tests.flaky"
                )
            )
            dead = await s.scalar(select(func.count()).where(DeadLetter.event_id == event_id))
        assert runs == 1 and dead == 0

    async def test_duplicate_job_applies_effects_once(self, db: Database) -> None:
        tenant = await make_tenant(db)
        event_id = await _emit(db, "test_events.plain", tenant.id)
        async with db.session(system=True) as s:  # at-least-once: the same job twice
            await defer(s, HANDLE_TASK, args=handler_job_args(event_id, "tests.plain", tenant.id))
        await run_pending(db)
        assert sum(1 for e in seen if e.event_id == event_id) == 1
        assert await _effects(db, "tests.plain.effect", event_id) == 1


class TestDeadLetters:
    async def test_always_failing_is_dead_lettered_after_three_tries(self, db: Database) -> None:
        event_id = await _emit(db, "test_events.broken", None)
        await run_pending(db)
        assert tries[event_id] == 3
        async with db.session(system=True) as s:
            rows, _ = await deadletters.list_dead_letters(s, handler="tests.broken")
        letter = next(r for r in rows if r.event_id == event_id)
        assert letter.status == DeadLetterStatus.dead
        assert letter.attempts == 3
        assert "always broken" in letter.last_error
        assert await _effects(db, "tests.broken.effect", event_id) == 0

    async def test_replay_after_fix_resolves(self, db: Database) -> None:
        tenant = await make_tenant(db)
        event_id = await _emit(db, "test_events.broken", tenant.id)
        await run_pending(db)
        async with db.session(system=True) as s:
            letter = (
                await s.execute(select(DeadLetter).where(DeadLetter.event_id == event_id))
            ).scalar_one()
        healed.add(event_id)
        async with db.session(system=True) as s:
            await deadletters.replay(s, letter.id)
        await run_pending(db)
        assert tries[event_id] == 4
        assert await _effects(db, "tests.broken.effect", event_id) == 1
        async with db.session(system=True) as s:
            after = await s.get(DeadLetter, letter.id)
        assert after is not None
        assert after.status == DeadLetterStatus.resolved and after.replay_count == 1

    async def test_replay_that_fails_again_is_dead_again(self, db: Database) -> None:
        event_id = await _emit(db, "test_events.broken", None)
        await run_pending(db)
        async with db.session(system=True) as s:
            letter = (
                await s.execute(select(DeadLetter).where(DeadLetter.event_id == event_id))
            ).scalar_one()
            await deadletters.replay(s, letter.id)
        await run_pending(db)
        async with db.session(system=True) as s:
            after = await s.get(DeadLetter, letter.id)
        assert after is not None
        assert after.status == DeadLetterStatus.dead and after.attempts == 6


class TestCrashSafety:
    async def test_event_committed_before_any_worker_is_delivered_later(self, db: Database) -> None:
        tenant = await make_tenant(db)
        event_id = await _emit(db, "test_events.plain", tenant.id)
        # the emitting process "dies" here; a brand-new database handle and worker pick it up
        fresh = Database(db.url)
        try:
            await run_pending(fresh)
        finally:
            await fresh.dispose()
        assert await _effects(db, "tests.plain.effect", event_id) == 1

    async def test_job_of_a_dead_worker_is_requeued_and_delivered(self, db: Database) -> None:
        tenant = await make_tenant(db)
        event_id = await _emit(db, "test_events.plain", tenant.id)
        async with open_app(db.url) as app:
            worker_id = await app.job_manager.register_worker()
            job = await app.job_manager.fetch_job(queues=["events"], worker_id=worker_id)
            assert job is not None and job.task_kwargs["event_id"] == str(event_id)
            # the worker dies mid-job: no heartbeat any more
            async with db.session(system=True) as s:
                await s.execute(
                    text("UPDATE procrastinate_workers SET last_heartbeat = :t WHERE id = :w"),
                    {
                        "t": (await s.scalar(text("SELECT now()"))) - timedelta(hours=1),
                        "w": worker_id,
                    },
                )
            assert await recover_stalled_jobs() >= 1
        await run_pending(db)
        assert await _effects(db, "tests.plain.effect", event_id) == 1
