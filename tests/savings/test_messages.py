"""The messages job of a drained batch: it writes receipts (every kind, one insert) and sends
the ones due now itself, honouring opt-outs and quiet hours; a failed send is retried by a
delivery job and a retried job sends nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from httpx import AsyncClient
from sqlalchemy import select, text

from ludus.core.auth.models import User
from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.notifications import preferences
from ludus.core.notifications.delivery import DELIVER_BATCH_TASK, DELIVER_TASK
from ludus.core.notifications.models import Channel, MessageStatus, NotificationMessage
from ludus.core.notifications.providers import OutgoingMessage, ProviderError, set_provider
from ludus.savings import tasks
from ludus.savings.mpesa.sandbox import c2b_confirmation_body
from tests.savings.factories import add_member, make_org, post, rid


class Flaky:
    """Fails every send (a transient error): the message must wait for a retry."""

    name = "flaky"

    def __init__(self) -> None:
        self.calls: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> Any:
        self.calls.append(message)
        raise ProviderError("gateway timeout")


@pytest.fixture
def flaky_whatsapp() -> Any:
    provider = Flaky()
    set_provider(Channel.whatsapp, provider)
    yield provider
    set_provider(Channel.whatsapp, None)


async def _jobs(db: Database, task: str, tenant_id: object) -> list[dict[str, Any]]:
    async with db.session(system=True) as s:
        rows = await s.execute(
            text(
                "SELECT args, scheduled_at FROM procrastinate_jobs WHERE task_name = :t"
                " AND (args->>'tenant_id' = :tenant OR :tenant IS NULL)"
                " ORDER BY id"
            ),
            {"t": task, "tenant": None if tenant_id is None else str(tenant_id)},
        )
        return [{"args": r[0], "scheduled_at": r[1]} for r in rows.all()]


class TestMessagesJob:
    async def test_sent_by_the_job_with_opt_outs_quiet_hours_and_retries(
        self, client: AsyncClient, db: Database, flaky_whatsapp: Flaky
    ) -> None:
        org = await make_org(db)
        plain, opted, quiet = [await add_member(db, org, n) for n in ("P", "O", "Q")]
        async with db.session(tenant_id=org.tenant.id) as s:
            await preferences.set_preference(
                s, tenant_id=org.tenant.id, user_id=opted.user_id,
                kind="savings.deposit_receipt", channel=Channel.sms, enabled=False,
            )  # fmt: skip
            tz = (await s.get(User, quiet.user_id)).timezone  # type: ignore[union-attr]
            local = clock.utcnow().astimezone(preferences.zone(tz))
            await preferences.set_quiet_hours(
                s, tenant_id=org.tenant.id, user_id=quiet.user_id,
                start=(local - timedelta(hours=1)).time(), end=(local + timedelta(hours=1)).time(),
            )  # fmt: skip
        for member in (plain, opted, quiet):
            body = c2b_confirmation_body(trans_id=rid(), amount=5_000, bill_ref=member.account_ref,
                                         msisdn="x")  # fmt: skip
            assert await post(client, org.url("confirmation"), orjson.dumps(body)) == 200
        assert await tasks.drain(db, org.tenant.id) == 3
        (job,) = await _jobs(db, tasks.MESSAGES_TASK, org.tenant.id)
        for _ in range(2):  # a retried job writes and sends nothing more
            await tasks.send_messages(**job["args"])

        async with db.session(tenant_id=org.tenant.id) as s:
            rows = (
                await s.execute(
                    select(NotificationMessage).where(
                        NotificationMessage.tenant_id == org.tenant.id,
                        NotificationMessage.kind == "savings.deposit_receipt",
                    )
                )
            ).scalars()
            got = {(m.user_id, m.channel): m for m in rows}
        assert len(got) == 6
        sms = {m: got[(m.user_id, Channel.sms)] for m in (plain, opted, quiet)}
        wa = {m: got[(m.user_id, Channel.whatsapp)] for m in (plain, opted, quiet)}
        # Sent by the job itself, once.
        assert (sms[plain].status, sms[plain].attempts, sms[plain].provider) == (
            MessageStatus.sent, 1, "sandbox",
        )  # fmt: skip
        assert "received KES 50.00" in sms[plain].body
        # Opted out of SMS receipts: skipped, never sent.
        assert (sms[opted].status, sms[opted].error) == (MessageStatus.skipped, "opted_out")
        # Quiet hours: both channels wait (not tried) until they end, with a job for then.
        end = clock.utcnow() + timedelta(hours=1)
        for message in (sms[quiet], wa[quiet]):
            assert (message.status, message.attempts) == (MessageStatus.queued, 0)
            assert message.data["deferred_for"] == "quiet_hours"
            assert message.next_attempt_at is not None
            assert abs(message.next_attempt_at - end) < timedelta(minutes=1)
        later = [
            j for j in await _jobs(db, DELIVER_BATCH_TASK, None)
            if str(sms[quiet].id) in j["args"]["message_ids"]
        ]  # fmt: skip
        assert len(later) == 1
        assert set(later[0]["args"]["message_ids"]) == {str(sms[quiet].id), str(wa[quiet].id)}
        assert abs(later[0]["scheduled_at"] - end) < timedelta(minutes=1)
        # WhatsApp failed (transient) for the two due now: tried once each, retry queued.
        assert sorted(c.recipient for c in flaky_whatsapp.calls) == sorted(
            [plain.phone, opted.phone]
        )
        for member in (plain, opted):
            message = wa[member]
            assert (message.status, message.attempts) == (MessageStatus.queued, 1)
            assert message.error is not None and "gateway timeout" in message.error
            assert message.next_attempt_at is not None and message.next_attempt_at > clock.utcnow()
        retries = {j["args"]["message_id"] for j in await _jobs(db, DELIVER_TASK, None)}
        assert {str(wa[plain].id), str(wa[opted].id)} <= retries
