from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from ludus.core.jobs.runner import run_pending
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.notifications import delivery
from ludus.core.notifications.config import get_notify_settings
from ludus.core.notifications.delivery import Outcome, RetryPolicy
from ludus.core.notifications.models import Channel, MessageStatus, NotificationMessage
from ludus.core.notifications.providers import set_provider
from ludus.core.notifications.service import notify, send_now
from tests.core.notifications.support import FlakyProvider, key, template, tenant_with, user_in


async def _queued_sms(db: Database, kind: str = "savings.deposit_receipt") -> uuid.UUID:
    tenant = await tenant_with(db)
    user = await user_in(db, tenant)
    k = key()
    await template(db, tenant, k, Channel.sms, "Deposit of {{ amount }} received")
    async with db.session(tenant_id=tenant.id) as s:
        (message,) = await notify(
            s,
            tenant_id=tenant.id,
            user_id=user.id,
            kind=kind,
            template_key=k,
            context={"amount": 10},
        )
    return message.id


async def _load(db: Database, message_id: uuid.UUID) -> NotificationMessage:
    async with db.session(system=True) as s:
        found = await s.get(NotificationMessage, message_id)
        assert found is not None
        return found


async def _retry_jobs(db: Database, message_id: uuid.UUID) -> list:
    async with db.session(system=True) as s:
        rows = await s.execute(
            text(
                "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = :t"
                " AND args->>'message_id' = :id AND scheduled_at IS NOT NULL ORDER BY id"
            ),
            {"t": delivery.DELIVER_TASK, "id": str(message_id)},
        )
        return [r[0] for r in rows]


class TestRetryPolicy:
    def test_three_tries_with_exponential_backoff(self) -> None:
        policy = RetryPolicy(max_attempts=3, base_seconds=30, factor=2)
        now = clock.utcnow()
        assert policy.next_attempt(1, now) == now + timedelta(seconds=30)
        assert policy.next_attempt(2, now) == now + timedelta(seconds=60)
        assert policy.next_attempt(3, now) is None
        assert RetryPolicy(5, 10, 3).delay(4) == timedelta(seconds=270)


class TestDeliver:
    async def test_success_marks_sent_with_provider_id(self, db: Database) -> None:
        provider = FlakyProvider(0)
        set_provider(Channel.sms, provider)
        message_id = await _queued_sms(db)
        assert await delivery.deliver(message_id) == Outcome.sent
        message = await _load(db, message_id)
        assert message.status == MessageStatus.sent
        assert message.provider == "flaky" and message.provider_message_id
        assert message.attempts == 1 and message.sent_at is not None
        assert provider.calls[0].body == "Deposit of 10 received"
        assert provider.calls[0].reference == str(message_id)
        # A second run (duplicate job) sends nothing more.
        assert await delivery.deliver(message_id) == Outcome.not_due
        assert len(provider.calls) == 1

    async def test_transient_failures_retry_with_backoff_then_succeed(self, db: Database) -> None:
        provider = FlakyProvider(2)
        set_provider(Channel.sms, provider)
        message_id = await _queued_sms(db)
        start = clock.utcnow()
        assert await delivery.deliver(message_id) == Outcome.retry
        first = await _load(db, message_id)
        assert first.status == MessageStatus.queued and first.attempts == 1
        assert first.error and "provider down" in first.error
        assert first.next_attempt_at is not None
        assert timedelta(seconds=29) < first.next_attempt_at - start < timedelta(seconds=32)
        assert await delivery.deliver(message_id) == Outcome.not_due  # backoff not over
        assert len(provider.calls) == 1
        clock.advance(31)
        assert await delivery.deliver(message_id) == Outcome.retry
        second = await _load(db, message_id)
        assert second.next_attempt_at is not None
        assert (
            timedelta(seconds=59) < second.next_attempt_at - clock.utcnow() < timedelta(seconds=61)
        )
        clock.advance(61)
        assert await delivery.deliver(message_id) == Outcome.sent
        done = await _load(db, message_id)
        assert (done.status, done.attempts, done.error) == (MessageStatus.sent, 3, None)
        # Each retry was scheduled as a job at its backoff time.
        retries = await _retry_jobs(db, message_id)
        assert len(retries) == 2

    async def test_always_failing_gives_up_after_three_tries(self, db: Database) -> None:
        provider = FlakyProvider(99)
        set_provider(Channel.sms, provider)
        message_id = await _queued_sms(db)
        outcomes = []
        for _ in range(3):
            outcomes.append(await delivery.deliver(message_id))
            clock.advance(3600)
        assert outcomes == [Outcome.retry, Outcome.retry, Outcome.failed]
        assert await delivery.deliver(message_id) == Outcome.not_due
        message = await _load(db, message_id)
        assert (message.status, message.attempts) == (MessageStatus.failed, 3)
        assert message.next_attempt_at is None
        assert len(provider.calls) == 3

    async def test_permanent_error_fails_at_once(self, db: Database) -> None:
        set_provider(Channel.sms, FlakyProvider(1, permanent=True))
        message_id = await _queued_sms(db)
        assert await delivery.deliver(message_id) == Outcome.failed
        message = await _load(db, message_id)
        assert (message.status, message.attempts) == (MessageStatus.failed, 1)
        assert await _retry_jobs(db, message_id) == []

    async def test_deferred_message_is_not_sent_early(self, db: Database) -> None:
        provider = FlakyProvider(0)
        set_provider(Channel.sms, provider)
        message_id = await _queued_sms(db)
        async with db.session(system=True) as s:
            message = await s.get(NotificationMessage, message_id)
            assert message is not None
            message.next_attempt_at = clock.utcnow() + timedelta(hours=8)
        assert await delivery.deliver(message_id) == Outcome.not_due
        assert provider.calls == []
        clock.advance(8 * 3600 + 1)
        assert await delivery.deliver(message_id) == Outcome.sent

    async def test_crashed_claim_expires_and_the_sweep_sends(self, db: Database) -> None:
        provider = FlakyProvider(0)
        set_provider(Channel.sms, provider)
        message_id = await _queued_sms(db)
        # A worker claimed the message and died before recording anything.
        async with db.session(system=True) as s:
            message = await s.get(NotificationMessage, message_id)
            assert message is not None
            message.attempts = 1
            message.next_attempt_at = clock.utcnow() + timedelta(seconds=120)
        assert await delivery.deliver(message_id) == Outcome.not_due
        clock.advance(200)
        assert await delivery.deliver_due() >= 1
        done = await _load(db, message_id)
        assert (done.status, done.attempts) == (MessageStatus.sent, 2)


class TestThroughJobs:
    async def test_run_pending_delivers_queued_messages(
        self, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # No backoff, so the retry job is due at once for the runner.
        monkeypatch.setenv("LUDUS_NOTIFY_RETRY_BASE_SECONDS", "0")
        get_notify_settings.cache_clear()
        provider = FlakyProvider(1)
        set_provider(Channel.sms, provider)
        message_id = await _queued_sms(db)
        try:
            await run_pending(db, queues=[delivery.QUEUE])
        finally:
            monkeypatch.delenv("LUDUS_NOTIFY_RETRY_BASE_SECONDS")
            get_notify_settings.cache_clear()
        message = await _load(db, message_id)
        assert (message.status, message.attempts) == (MessageStatus.sent, 2)
        assert len(provider.calls) == 2


class TestSendNow:
    async def test_send_now_records_sent_or_failed(self, db: Database) -> None:
        tenant = await tenant_with(db)
        set_provider(Channel.sms, FlakyProvider(1))
        async with db.session(tenant_id=tenant.id) as s:
            failed = await send_now(
                s,
                tenant_id=tenant.id,
                channel=Channel.sms,
                recipient="+254700000001",
                body="code 1",
                kind="otp",
            )
            sent = await send_now(
                s,
                tenant_id=tenant.id,
                channel=Channel.sms,
                recipient="+254700000001",
                body="code 2",
                kind="otp",
            )
        assert failed.status == MessageStatus.failed and "provider down" in (failed.error or "")
        assert sent.status == MessageStatus.sent and sent.provider == "flaky"
        set_provider(Channel.sms, None)
        async with db.session(tenant_id=tenant.id) as s:
            sandbox = await send_now(
                s,
                tenant_id=tenant.id,
                channel=Channel.sms,
                recipient="+254700000001",
                body="code 3",
                kind="otp",
            )
        assert sandbox.provider == "sandbox"
        assert (sandbox.provider_message_id or "").startswith("sbx_")
