from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.kit.errors import NotFound
from ludus.core.notifications import manage, preferences
from ludus.core.notifications.models import Channel, MessageStatus
from ludus.core.notifications.preferences import QuietHours
from ludus.core.notifications.service import notify
from ludus.core.notifications.templates import TemplateNotFound
from tests.core.notifications.support import key, template, tenant_with, user_in


async def _jobs_for(session: AsyncSession, message_ids: list) -> list[dict]:
    rows = await session.execute(
        text(
            "SELECT args->>'message_id' AS id, scheduled_at FROM procrastinate_jobs"
            " WHERE task_name = 'notifications.deliver' AND args->>'message_id' = ANY(:ids)"
        ),
        {"ids": [str(i) for i in message_ids]},
    )
    return [dict(r._mapping) for r in rows]


async def _all_channels(db: Database, tenant, k: str) -> None:  # type: ignore[no-untyped-def]
    await template(db, tenant, k, Channel.in_app, "In-app: {{ amount }}")
    await template(db, tenant, k, Channel.email, "<p>Email {{ amount }}</p>", subject="Receipt")
    await template(db, tenant, k, Channel.sms, "SMS {{ amount }}")
    await template(db, tenant, k, Channel.whatsapp, "WA {{ amount }}")
    await template(db, tenant, k, Channel.push, "Push {{ amount }}", subject="Title")


class TestNotify:
    async def test_every_templated_channel_with_addresses_and_jobs_in_the_same_transaction(
        self, db: Database, session: AsyncSession
    ) -> None:
        tenant = await tenant_with(db)
        user = await user_in(db, tenant)
        k = key()
        await _all_channels(db, tenant, k)
        await manage.register_device(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            token="device-token-1",
            platform="android",
        )
        messages = await notify(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            kind="savings.deposit_receipt",
            template_key=k,
            context={"amount": 5},
        )
        by_channel = {m.channel: m for m in messages}
        assert set(by_channel) == set(Channel)
        assert by_channel[Channel.email].recipient == user.email
        assert by_channel[Channel.sms].recipient == user.phone
        assert by_channel[Channel.whatsapp].recipient == user.phone
        assert by_channel[Channel.push].recipient == "device-token-1"
        assert by_channel[Channel.in_app].recipient == str(user.id)
        assert by_channel[Channel.in_app].status == MessageStatus.delivered
        assert by_channel[Channel.email].body == "<p>Email 5</p>"
        assert by_channel[Channel.email].data == {"html": True}
        queued = [m for m in messages if m.status == MessageStatus.queued]
        assert {m.channel for m in queued} == {
            Channel.email,
            Channel.sms,
            Channel.whatsapp,
            Channel.push,
        }
        jobs = await _jobs_for(session, [m.id for m in queued])
        assert sorted(j["id"] for j in jobs) == sorted(str(m.id) for m in queued)
        assert all(j["scheduled_at"] is None for j in jobs)  # due now

    async def test_explicit_channels_missing_address_and_dedupe(
        self, db: Database, session: AsyncSession
    ) -> None:
        tenant = await tenant_with(db)
        user = await user_in(db, tenant, phone=None)
        k = key()
        await _all_channels(db, tenant, k)
        args = dict(
            tenant_id=tenant.id,
            user_id=user.id,
            kind="paya.received",
            template_key=k,
            context={"amount": 1},
            channels=[Channel.sms, Channel.email],
            dedupe_key="evt-1",
        )
        first = await notify(session, **args)  # type: ignore[arg-type]
        status = {m.channel: (m.status, m.error) for m in first}
        assert status == {
            Channel.sms: (MessageStatus.skipped, "no_recipient"),
            Channel.email: (MessageStatus.queued, None),
        }
        again = await notify(session, **args)  # type: ignore[arg-type]
        assert again == []
        assert len(await _jobs_for(session, [m.id for m in first])) == 1

    async def test_missing_template_and_unknown_user_are_refused(
        self, db: Database, session: AsyncSession
    ) -> None:
        tenant = await tenant_with(db)
        user = await user_in(db, tenant)
        with pytest.raises(TemplateNotFound):
            await notify(
                session,
                tenant_id=tenant.id,
                user_id=user.id,
                kind="x",
                template_key=key(),
                context={},
            )
        k = key()
        await template(db, tenant, k, Channel.sms, "hi")
        with pytest.raises(TemplateNotFound):
            await notify(
                session,
                tenant_id=tenant.id,
                user_id=user.id,
                kind="x",
                template_key=k,
                context={},
                channels=[Channel.email],
            )
        with pytest.raises(NotFound):
            await notify(
                session,
                tenant_id=tenant.id,
                user_id=tenant.id,
                kind="x",
                template_key=k,
                context={},
            )


class TestPreferences:
    async def test_opt_outs_by_kind_prefix_and_wildcard_but_otp_always_goes(
        self, db: Database, session: AsyncSession
    ) -> None:
        tenant = await tenant_with(db)
        user = await user_in(db, tenant)
        k = key()
        await template(db, tenant, k, Channel.sms, "sms")
        await template(db, tenant, k, Channel.email, "email")

        async def statuses(kind: str) -> dict[Channel, MessageStatus]:
            sent = await notify(
                session, tenant_id=tenant.id, user_id=user.id, kind=kind, template_key=k, context={}
            )
            return {m.channel: m.status for m in sent}

        base = dict(tenant_id=tenant.id, user_id=user.id)
        await preferences.set_preference(
            session, **base, kind="marketing", channel=Channel.sms, enabled=False
        )
        assert await statuses("marketing.winback") == {
            Channel.sms: MessageStatus.skipped,
            Channel.email: MessageStatus.queued,
        }
        # A more specific choice beats the prefix.
        await preferences.set_preference(
            session, **base, kind="marketing.winback", channel=Channel.sms, enabled=True
        )
        assert (await statuses("marketing.winback"))[Channel.sms] == MessageStatus.queued
        # Every kind off on email; OTP and security still go out.
        await preferences.set_preference(
            session, **base, kind="*", channel=Channel.email, enabled=False
        )
        assert (await statuses("streak.nudge"))[Channel.email] == MessageStatus.skipped
        assert await statuses("otp") == {
            Channel.sms: MessageStatus.queued,
            Channel.email: MessageStatus.queued,
        }
        assert (await statuses("security.new_login"))[Channel.email] == MessageStatus.queued
        # Another user's choices do not leak.
        other = await user_in(db, tenant)
        sent = await notify(
            session,
            tenant_id=tenant.id,
            user_id=other.id,
            kind="marketing.x",
            template_key=k,
            context={},
        )
        assert {m.status for m in sent} == {MessageStatus.queued}


class TestQuietHours:
    def test_window_arithmetic(self) -> None:
        night = QuietHours(time(21, 0), time(7, 0))
        nairobi = "Africa/Nairobi"  # UTC+3
        # 22:30 local → until 07:00 local next day = 04:00 UTC.
        assert night.until(datetime(2026, 3, 1, 19, 30, tzinfo=UTC), nairobi) == datetime(
            2026, 3, 2, 4, 0, tzinfo=UTC
        )
        # 05:00 local → until 07:00 local same day.
        assert night.until(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), nairobi) == datetime(
            2026, 3, 2, 4, 0, tzinfo=UTC
        )
        assert night.until(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), nairobi) is None  # noon
        lunch = QuietHours(time(12, 0), time(13, 0))
        assert lunch.until(datetime(2026, 3, 2, 9, 30, tzinfo=UTC), nairobi) == datetime(
            2026, 3, 2, 10, 0, tzinfo=UTC
        )
        assert lunch.until(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), nairobi) is None
        assert QuietHours(time(8), time(8)).until(datetime.now(UTC), nairobi) is None

    async def test_non_urgent_messages_wait_until_quiet_hours_end_in_user_timezone(
        self, db: Database, session: AsyncSession
    ) -> None:
        tenant = await tenant_with(db)
        user = await user_in(db, tenant, timezone="America/Lima")
        k = key()
        await template(db, tenant, k, Channel.sms, "sms")
        await template(db, tenant, k, Channel.in_app, "in app")
        local_now = clock.utcnow().astimezone(preferences.zone("America/Lima"))
        start = (local_now - timedelta(hours=1)).time()
        end = (local_now + timedelta(hours=1)).time()
        await preferences.set_quiet_hours(
            session, tenant_id=tenant.id, user_id=user.id, start=start, end=end
        )

        nudge = await notify(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            kind="streak.nudge",
            template_key=k,
            context={},
        )
        by_channel = {m.channel: m for m in nudge}
        sms = by_channel[Channel.sms]
        expected = clock.utcnow() + timedelta(hours=1)
        assert sms.status == MessageStatus.queued
        assert sms.next_attempt_at is not None
        assert abs(sms.next_attempt_at - expected) < timedelta(minutes=1)
        assert sms.data["deferred_for"] == "quiet_hours"
        (job,) = await _jobs_for(session, [sms.id])
        assert abs(job["scheduled_at"] - sms.next_attempt_at) < timedelta(seconds=1)
        # In-app is silent: delivered now.
        assert by_channel[Channel.in_app].status == MessageStatus.delivered

        otp = await notify(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            kind="otp",
            template_key=k,
            context={},
            channels=[Channel.sms],
        )
        assert otp[0].next_attempt_at is not None
        assert otp[0].next_attempt_at <= clock.utcnow()
        (otp_job,) = await _jobs_for(session, [otp[0].id])
        assert otp_job["scheduled_at"] is None

    async def test_tenant_default_quiet_hours_and_user_turning_them_off(
        self, db: Database, session: AsyncSession
    ) -> None:
        now_utc = clock.utcnow()
        window = {
            "start": (now_utc - timedelta(hours=2)).strftime("%H:%M"),
            "end": (now_utc + timedelta(hours=2)).strftime("%H:%M"),
        }
        tenant = await tenant_with(db, {"quiet_hours": window})
        user = await user_in(db, tenant, timezone="UTC")
        k = key()
        await template(db, tenant, k, Channel.email, "hello")
        first = await notify(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            kind="loyalty.winback",
            template_key=k,
            context={},
        )
        assert first[0].next_attempt_at is not None
        assert first[0].next_attempt_at > now_utc + timedelta(hours=1)
        await preferences.set_quiet_hours(
            session, tenant_id=tenant.id, user_id=user.id, start=None, end=None
        )
        second = await notify(
            session,
            tenant_id=tenant.id,
            user_id=user.id,
            kind="loyalty.winback",
            template_key=k,
            context={},
        )
        assert second[0].next_attempt_at is not None
        assert second[0].next_attempt_at <= clock.utcnow()
