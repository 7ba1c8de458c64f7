from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import User
from ludus.core.jobs.runner import run_pending
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.kit.errors import NotFound
from ludus.core.notifications import delivery, manage, preferences
from ludus.core.notifications.bulk import Recipient, notify_many
from ludus.core.notifications.config import get_notify_settings
from ludus.core.notifications.delivery import Outcome
from ludus.core.notifications.models import Channel, MessageStatus, NotificationMessage
from ludus.core.notifications.providers import (
    OutgoingMessage,
    ProviderError,
    SendResult,
    set_provider,
)
from ludus.core.notifications.service import notify
from ludus.core.tenancy.models import Tenant
from tests.core.notifications.support import FlakyProvider, key, template, tenant_with, user_in


async def _batch_jobs(session: AsyncSession, message_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            "SELECT args->'message_ids' AS ids, scheduled_at FROM procrastinate_jobs"
            " WHERE task_name = :t AND status = 'todo'"
            " AND args->'message_ids' ?| CAST(:ids AS text[])"
        ),
        {"t": delivery.DELIVER_BATCH_TASK, "ids": [str(i) for i in message_ids]},
    )
    return [dict(r._mapping) for r in rows]


async def _mixed_users(db: Database, session: AsyncSession, tenant: Tenant) -> list[User]:
    """A plain user, one opted out of SMS, one without a phone, one in quiet hours (Lima),
    one reading Swahili, and one with a push device."""
    plain = await user_in(db, tenant)
    opted = await user_in(db, tenant)
    await preferences.set_preference(
        session, tenant_id=tenant.id, user_id=opted.id, kind="savings", channel=Channel.sms,
        enabled=False,
    )  # fmt: skip
    no_phone = await user_in(db, tenant, phone=None)
    quiet = await user_in(db, tenant, timezone="America/Lima")
    local = clock.utcnow().astimezone(preferences.zone("America/Lima"))
    await preferences.set_quiet_hours(
        session, tenant_id=tenant.id, user_id=quiet.id,
        start=(local - timedelta(hours=1)).time(), end=(local + timedelta(hours=1)).time(),
    )  # fmt: skip
    swahili = await user_in(db, tenant, locale="sw")
    pushed = await user_in(db, tenant)
    await manage.register_device(
        session, tenant_id=tenant.id, user_id=pushed.id, token=f"tok-{uuid.uuid4().hex}",
        platform="android",
    )  # fmt: skip
    return [plain, opted, no_phone, quiet, swahili, pushed]


def _comparable(m: NotificationMessage) -> tuple[Any, ...]:
    due = m.next_attempt_at
    # Quiet-hours deferrals are computed from the clock: compare to the minute.
    return (m.user_id, m.channel, m.recipient, m.subject, m.body, m.status, m.error, m.data,
            m.locale, m.kind, m.template_key, due.replace(second=0, microsecond=0) if due else None,
            m.provider)  # fmt: skip


class TestNotifyMany:
    async def test_each_recipient_gets_what_notify_would_write(
        self, db: Database, session: AsyncSession
    ) -> None:
        tenant = await tenant_with(db)
        k = key()
        for channel in (Channel.sms, Channel.whatsapp, Channel.in_app, Channel.push):
            await template(db, tenant, k, channel, f"{channel.value}: {{{{ amount }}}}")
        await template(db, tenant, k, Channel.sms, "sw sms: {{ amount }}", locale="sw")
        users = await _mixed_users(db, session, tenant)
        one_by_one: list[NotificationMessage] = []
        for i, user in enumerate(users):
            one_by_one += await notify(
                session, tenant_id=tenant.id, user_id=user.id, kind="savings.deposit_receipt",
                template_key=k, context={"amount": i}, dedupe_key=f"one:{i}",
            )  # fmt: skip
        many = await notify_many(
            session,
            tenant_id=tenant.id,
            kind="savings.deposit_receipt",
            template_key=k,
            recipients=[Recipient(u.id, {"amount": i}, f"many:{i}") for i, u in enumerate(users)],
        )
        assert sorted(map(_comparable, many), key=repr) == sorted(
            map(_comparable, one_by_one), key=repr
        )
        # The mix really covers every case.
        statuses = {(m.user_id, m.channel): (m.status, m.error) for m in many}
        assert statuses[(users[1].id, Channel.sms)] == (MessageStatus.skipped, "opted_out")
        assert statuses[(users[2].id, Channel.sms)] == (MessageStatus.skipped, "no_recipient")
        assert statuses[(users[0].id, Channel.in_app)] == (MessageStatus.delivered, None)
        swahili = next(m for m in many if m.user_id == users[4].id and m.channel == Channel.sms)
        assert swahili.body == "sw sms: 4"
        deferred = [m for m in many if m.data.get("deferred_for") == "quiet_hours"]
        assert {m.user_id for m in deferred} == {users[3].id}
        # Queued messages travel in batch jobs: one due now, one at the end of quiet hours.
        queued = [m for m in many if m.status == MessageStatus.queued]
        jobs = await _batch_jobs(session, [m.id for m in queued])
        assert sorted(i for j in jobs for i in j["ids"]) == sorted(str(m.id) for m in queued)
        by_job = {j["scheduled_at"]: set(j["ids"]) for j in jobs}
        assert by_job.pop(None) == {str(m.id) for m in queued if m not in deferred}
        ((at, ids),) = by_job.items()
        assert ids == {str(m.id) for m in deferred if m.status == MessageStatus.queued}
        assert abs(at - deferred[0].next_attempt_at) < timedelta(seconds=1)

    async def test_dedupe_keys_and_refusals(self, db: Database, session: AsyncSession) -> None:
        tenant = await tenant_with(db)
        k = key()
        await template(db, tenant, k, Channel.sms, "hi {{ n }}")
        a, b = await user_in(db, tenant), await user_in(db, tenant)
        first = await notify_many(
            session, tenant_id=tenant.id, kind="savings.x", template_key=k,
            recipients=[Recipient(a.id, {"n": 1}, "d1"), Recipient(b.id, {"n": 2}, "d2"),
                        Recipient(a.id, {"n": 1}, "d1")],
        )  # fmt: skip
        assert sorted(m.body for m in first) == ["hi 1", "hi 2"]
        again = await notify_many(
            session, tenant_id=tenant.id, kind="savings.x", template_key=k,
            recipients=[Recipient(a.id, {"n": 1}, "d1"), Recipient(b.id, {"n": 3}, "d3")],
        )  # fmt: skip
        assert [m.body for m in again] == ["hi 3"]
        assert await notify_many(
            session, tenant_id=tenant.id, kind="x", template_key=k, recipients=[]
        ) == []  # fmt: skip
        stranger = uuid.uuid4()
        try:
            await notify_many(
                session, tenant_id=tenant.id, kind="x", template_key=k,
                recipients=[Recipient(a.id, {"n": 1}), Recipient(stranger, {"n": 1})],
            )  # fmt: skip
        except NotFound as exc:
            assert exc.details == {"user_id": str(stranger)}
        else:
            raise AssertionError("an unknown user must be refused")


class BadNumber:
    """Refuses one recipient for good, sends the rest."""

    name = "picky"

    def __init__(self, bad: str) -> None:
        self.bad = bad
        self.calls: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        self.calls.append(message)
        if message.recipient == self.bad:
            raise ProviderError("invalid number", permanent=True)
        return SendResult(self.name, f"p-{uuid.uuid4().hex[:8]}")


async def _queued_batch(db: Database, users: int) -> tuple[list[uuid.UUID], list[User]]:
    tenant = await tenant_with(db)
    people = [await user_in(db, tenant) for _ in range(users)]
    k = key()
    await template(db, tenant, k, Channel.sms, "Deposit {{ n }}")
    async with db.session(tenant_id=tenant.id) as s:
        written = await notify_many(
            s, tenant_id=tenant.id, kind="savings.deposit_receipt", template_key=k,
            recipients=[Recipient(u.id, {"n": i}) for i, u in enumerate(people)],
        )  # fmt: skip
    return [m.id for m in written], people


class TestDeliverMany:
    async def test_sends_each_once_and_records_failures_one_by_one(self, db: Database) -> None:
        ids, people = await _queued_batch(db, 4)
        provider = BadNumber(bad=str(people[2].phone))
        set_provider(Channel.sms, provider)
        outcomes = await delivery.deliver_many(ids)
        assert sorted(outcomes.values()) == sorted([Outcome.sent] * 3 + [Outcome.failed])
        async with db.session(system=True) as s:
            rows = {
                m.recipient: m
                for m in await s.scalars(
                    select(NotificationMessage).where(NotificationMessage.id.in_(ids))
                )
            }
        assert rows[str(people[2].phone)].status == MessageStatus.failed
        sent = [m for r, m in rows.items() if r != people[2].phone]
        assert {(m.status, m.attempts, m.provider) for m in sent} == {
            (MessageStatus.sent, 1, "picky")
        }
        assert all(m.provider_message_id and m.sent_at for m in sent)
        # A duplicate job sends nothing more.
        assert set((await delivery.deliver_many(ids)).values()) == {Outcome.not_due}
        assert len(provider.calls) == 4

    async def test_transient_failure_retries_alone_and_jobs_deliver_the_batch(
        self, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # No backoff, so the retry job is due at once for the runner.
        monkeypatch.setenv("LUDUS_NOTIFY_RETRY_BASE_SECONDS", "0")
        get_notify_settings.cache_clear()
        ids, _ = await _queued_batch(db, 3)
        provider = FlakyProvider(1)
        set_provider(Channel.sms, provider)
        try:
            await run_pending(db, queues=[delivery.QUEUE])
        finally:
            monkeypatch.delenv("LUDUS_NOTIFY_RETRY_BASE_SECONDS")
            get_notify_settings.cache_clear()
        async with db.session(system=True) as s:
            rows = await s.execute(
                select(NotificationMessage.status, NotificationMessage.attempts).where(
                    NotificationMessage.id.in_(ids)
                )
            )
            got = sorted((str(status), attempts) for status, attempts in rows.all())
        # The failed one was tried again on its own; the others once.
        assert got == [("sent", 1), ("sent", 1), ("sent", 2)]
        assert len(provider.calls) == 4
