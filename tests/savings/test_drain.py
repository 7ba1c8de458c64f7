"""The batched drain: a burst counts once, every affected rank is stored, receipts leave
from their own job (once), and the callback paths skip the per-caller rate limit."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from httpx import AsyncClient
from sqlalchemy import func, select, text

from ludus.core.kit.db import Database
from ludus.core.kit.settings import get_settings
from ludus.core.ledger.verify import verify
from ludus.core.notifications.delivery import DELIVER_BATCH_TASK
from ludus.core.notifications.models import NotificationMessage
from ludus.engagement.challenges.models import Participant
from ludus.savings import challenges, progress, tasks
from ludus.savings.challenge_schemas import ChallengeIn, ChallengePatch, JoinIn
from ludus.savings.models import CallbackKind, Deposit, Member, MpesaCallback, SavingsOrg
from ludus.savings.mpesa.base import daraja_timestamp
from ludus.savings.mpesa.sandbox import Outcome, c2b_confirmation_body, stk_callback_body
from tests.savings.factories import Org, add_member, make_org, post, rid

NAIROBI = ZoneInfo("Africa/Nairobi")


async def _challenge(db: Database, org: Org, members: list[Member]) -> Any:
    start = datetime.now(NAIROBI).date()
    async with db.session(tenant_id=org.tenant.id) as s:
        spec = ChallengeIn(name="Burst", type="fixed_amount", target={"amount": 100_000},
                           start_date=start, duration_days=30)  # fmt: skip
        ch = await challenges.create(s, org.tenant, spec, actor=None)
        await challenges.update(s, org.tenant, ch.id, ChallengePatch(status="active"), actor=None)
        for m in members:
            await challenges.join(s, org.tenant, ch.id, m, JoinIn(), by_admin=True)
    return ch


async def _messages_jobs(db: Database, org: Org) -> list[dict[str, Any]]:
    async with db.session(system=True) as s:
        rows = await s.execute(
            text(
                "SELECT args FROM procrastinate_jobs WHERE task_name = :t"
                " AND args->>'tenant_id' = :tenant ORDER BY id"
            ),
            {"t": tasks.MESSAGES_TASK, "tenant": str(org.tenant.id)},
        )
        return [r[0] for r in rows.all()]


class TestBurst:
    async def test_burst_counts_once_stores_every_rank_and_sends_receipts_once(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        members = [await add_member(db, org, f"B{i}") for i in range(3)]
        ch = await _challenge(db, org, members)
        at = datetime.combine(datetime.now(NAIROBI).date(), time(9), tzinfo=NAIROBI)
        paid: dict[int, int] = {0: 0, 1: 0, 2: 0}
        bodies = []
        for n, (i, kes) in enumerate([(0, 100), (1, 300), (2, 50), (0, 400), (2, 20), (1, 10)]):
            body = c2b_confirmation_body(trans_id=rid(), amount=kes * 100,
                                         bill_ref=members[i].account_ref, msisdn="x")  # fmt: skip
            body["TransTime"] = daraja_timestamp(at + timedelta(minutes=n))
            bodies.append(orjson.dumps(body))
            paid[i] += kes * 100
        # redeliveries, and the STK report of the first payment (same receipt)
        first = orjson.loads(bodies[0])
        stk = stk_callback_body(
            merchant_request_id="m", checkout_request_id="co-" + first["TransID"],
            outcome=Outcome.success, amount=10_000, phone=members[0].phone,
            receipt=first["TransID"],
        )  # fmt: skip
        for body in [*bodies, bodies[1], bodies[4]]:
            assert await post(client, org.url("confirmation"), body) == 200
        assert await post(client, org.url("stk"), orjson.dumps(stk)) == 200

        assert await tasks.drain(db, org.tenant.id) == 7  # 6 confirmations + 1 STK result
        async with db.session(tenant_id=org.tenant.id) as s:
            counted = await s.execute(
                select(Deposit.member_id, func.count(), func.sum(Deposit.amount))
                .where(Deposit.tenant_id == org.tenant.id)
                .group_by(Deposit.member_id)
            )
            by_member = {mid: (int(c), int(t)) for mid, c, t in counted.all()}
            board, _ = await progress.leaderboard(s, org.tenant.id, ch, team_id=None,
                                                  offset=0, limit=10)  # fmt: skip
            ranks = select(Participant.user_id, Participant.rank).where(
                Participant.challenge_id == ch.id
            )
            stored = dict((await s.execute(ranks)).all())
            checkout = await s.scalar(
                select(Deposit.checkout_request_id).where(Deposit.receipt == first["TransID"])
            )
        assert by_member == {members[i].id: (2, paid[i]) for i in range(3)}
        assert checkout == "co-" + first["TransID"]  # the STK report is tied to the deposit
        # B0 40,000 > B1 31,000 > B2 7,000: every participant's stored rank is its live one
        assert [r.name for r in board] == ["B0", "B1", "B2"]
        assert {r.user_id: r.rank for r in board} == stored
        assert [r.total_saved for r in board] == [paid[0], paid[1], paid[2]]

        jobs = await _messages_jobs(db, org)
        assert len(jobs) == 1 and len(jobs[0]["receipts"]) == 6
        ups = {(r[0], r[3]) for r in jobs[0]["rank_ups"]}
        assert ups == {(str(members[i].id), i + 1) for i in range(3)}
        for _ in range(2):  # a retried job sends nothing twice
            await tasks.send_messages(**jobs[0])
        async with db.session(tenant_id=org.tenant.id) as s:
            rows = await s.execute(
                select(NotificationMessage.kind, NotificationMessage.channel, func.count())
                .where(NotificationMessage.tenant_id == org.tenant.id)
                .group_by(NotificationMessage.kind, NotificationMessage.channel)
            )
            sent = {(k, str(c)): int(n) for k, c, n in rows.all()}
            last = await s.scalar(
                select(NotificationMessage.body).where(
                    NotificationMessage.user_id == members[1].user_id,
                    NotificationMessage.kind == "savings.deposit_receipt",
                    NotificationMessage.body.contains("KES 10.00"),
                    NotificationMessage.channel == "sms",
                )
            )
        assert sent == {
            ("savings.deposit_receipt", "sms"): 6,
            ("savings.deposit_receipt", "whatsapp"): 6,
            ("savings.rank_changed", "sms"): 3,
            ("savings.rank_changed", "whatsapp"): 3,
        }
        assert last is not None and "Total saved KES 310.00" in last  # running total
        async with db.session(system=True) as s:
            assert (await verify(s, tenant_id=org.tenant.id)).ok
            states = await s.execute(
                select(
                    NotificationMessage.id,
                    NotificationMessage.status,
                    NotificationMessage.attempts,
                    NotificationMessage.provider,
                ).where(NotificationMessage.tenant_id == org.tenant.id)
            )
            rows = states.all()
            batches = await s.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"
                    " AND args->'message_ids' ?| CAST(:ids AS text[])"
                ),
                {"t": DELIVER_BATCH_TASK, "ids": [str(r[0]) for r in rows]},
            )
        # The job sent every message itself, each once (one attempt), and queued no delivery
        # job; the retried job sent nothing more.
        assert {(str(r[1]), r[2], r[3]) for r in rows} == {("sent", 1, "sandbox")}
        assert batches == 0


class TestRateLimitExemption:
    async def test_callbacks_are_not_rate_limited(
        self, client: AsyncClient, db: Database, monkeypatch: Any
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org)
        monkeypatch.setattr(get_settings(), "api_rate_limit", "2/minute")
        for _ in range(4):
            body = c2b_confirmation_body(trans_id=rid(), amount=1_000,
                                         bill_ref=member.account_ref, msisdn="x")  # fmt: skip
            assert await post(client, org.url("validation"), orjson.dumps(body)) == 200
        limited = [(await client.get("/api/v1/savings/members")).status_code for _ in range(3)]
        assert 429 in limited


class TestTakingTurns:
    async def test_a_drain_over_budget_requeues_itself_and_leaves_the_rest(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org)
        for _ in range(5):
            body = c2b_confirmation_body(trans_id=rid(), amount=1_000,
                                         bill_ref=member.account_ref, msisdn="x")  # fmt: skip
            assert await post(client, org.url("confirmation"), orjson.dumps(body)) == 200

        async def state() -> tuple[bool, int, int]:
            async with db.session(system=True) as s:
                flag = await s.scalar(
                    select(SavingsOrg.drain_scheduled).where(SavingsOrg.tenant_id == org.tenant.id)
                )
                jobs = await s.scalar(
                    text(
                        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"
                        " AND args->>'tenant_id' = :tenant"
                    ),
                    {"t": tasks.DRAIN_TASK, "tenant": str(org.tenant.id)},
                )
                deposits = await s.scalar(
                    select(func.count())
                    .select_from(Deposit)
                    .where(Deposit.tenant_id == org.tenant.id)
                )
            return bool(flag), int(jobs or 0), int(deposits or 0)

        assert await state() == (True, 1, 0)  # the first callback queued one drain
        assert await tasks.drain(db, org.tenant.id, batch=2, budget=0) == 2
        assert await state() == (True, 2, 2)  # stopped after one batch, successor queued
        assert await tasks.drain(db, org.tenant.id, batch=2) == 3
        assert (await state())[2] == 5


class TestStkAfterC2B:
    async def test_stk_report_of_a_recorded_receipt_is_tied_to_it(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org)
        receipt = rid()
        body = c2b_confirmation_body(trans_id=receipt, amount=2_000,
                                     bill_ref=member.account_ref, msisdn="x")  # fmt: skip
        assert await post(client, org.url("confirmation"), orjson.dumps(body)) == 200
        assert await tasks.drain(db, org.tenant.id) == 1
        stk = stk_callback_body(
            merchant_request_id="m", checkout_request_id="co-late-" + receipt,
            outcome=Outcome.success, amount=2_000, phone=member.phone, receipt=receipt,
        )  # fmt: skip
        assert await post(client, org.url("stk"), orjson.dumps(stk)) == 200
        assert await tasks.drain(db, org.tenant.id) == 1
        async with db.session(tenant_id=org.tenant.id) as s:
            rows = (await s.execute(select(Deposit.receipt, Deposit.checkout_request_id))).all()
        assert [tuple(r) for r in rows] == [(receipt, "co-late-" + receipt)]


class TestBadCallback:
    async def test_a_callback_that_cannot_be_processed_is_failed_and_the_rest_go_through(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org)
        receipts = [rid() for _ in range(3)]
        for receipt in receipts:
            body = c2b_confirmation_body(trans_id=receipt, amount=2_000,
                                         bill_ref=member.account_ref, msisdn="x")  # fmt: skip
            assert await post(client, org.url("confirmation"), orjson.dumps(body)) == 200
        # Stored, but its body cannot be read back (it never passed ingest).
        async with db.session(tenant_id=org.tenant.id) as s:
            kind = CallbackKind.c2b_confirmation
            s.add(MpesaCallback(tenant_id=org.tenant.id, kind=kind, dedup_key="BROKEN",
                                raw_body=b"not json", deliveries=1))  # fmt: skip
        assert await tasks.drain(db, org.tenant.id) == 4
        async with db.session(system=True) as s:
            rows = await s.execute(
                select(MpesaCallback.dedup_key, MpesaCallback.status, MpesaCallback.error).where(
                    MpesaCallback.tenant_id == org.tenant.id
                )
            )
            status = {key: (str(st), bool(error)) for key, st, error in rows.all()}
            deposits = await s.scalars(
                select(Deposit.receipt).where(Deposit.tenant_id == org.tenant.id)
            )
            assert sorted(deposits) == sorted(receipts)
            assert (await verify(s, tenant_id=org.tenant.id)).ok
        assert status == {"BROKEN": ("failed", True)} | {r: ("processed", False) for r in receipts}
        # Nothing is left pending, and a second drain changes nothing.
        assert await tasks.drain(db, org.tenant.id) == 0
