"""STK reconciliation: requests stuck in "initiated" are settled from M-Pesa's answer."""

from __future__ import annotations

import uuid

import orjson
from httpx import AsyncClient
from sqlalchemy import select, update

from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.savings import deposits, reconcile, repository, tasks
from ludus.savings.models import Member, StkRequest
from ludus.savings.mpesa import factory
from ludus.savings.mpesa.base import StkQueryResult
from ludus.savings.mpesa.sandbox import Outcome, SandboxAdapter, stk_callback_body
from tests.savings.factories import Org, add_member, make_org, post


class CountingSandbox(SandboxAdapter):
    def __init__(self) -> None:
        super().__init__(auto_fire=False)
        self.queried: list[str] = []

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        self.queried.append(checkout_request_id)
        return await super().stk_query(checkout_request_id)


async def _initiate(db: Database, org: Org, member: Member, checkout: str) -> None:
    async with db.session(tenant_id=org.tenant.id) as s:
        o = await repository.get_org(s, org.tenant.id)
        assert o is not None
        await deposits.record_stk_initiation(
            s, o, checkout_request_id=checkout, merchant_request_id="m-" + checkout,
            member=member, amount=5_000, phone=member.phone,
        )  # fmt: skip


async def _requests(db: Database, org: Org) -> dict[str, StkRequest]:
    async with db.session(tenant_id=org.tenant.id) as s:
        rows = await s.execute(select(StkRequest))
        return {r.checkout_request_id: r for r in rows.scalars()}


class TestStkReconciliation:
    async def test_stuck_requests_are_settled_adopted_or_left_open(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org, "Njeri")
        sandbox = CountingSandbox()
        factory.set_adapter(sandbox)
        co = f"co{uuid.uuid4().hex[:8]}_"
        try:
            answers = {
                co + "cancelled": Outcome.cancelled,
                co + "unanswered": Outcome.no_callback,
                co + "paid": Outcome.success,  # paid, but the callback was lost
            }
            for checkout, outcome in answers.items():
                sandbox.results[checkout] = outcome
                await _initiate(db, org, member, checkout)
            # The callback was processed while its initiation was still uncommitted, so the
            # initiation did not see the deposit and stayed "initiated".
            body = stk_callback_body(
                merchant_request_id="m", checkout_request_id=co + "raced",
                outcome=Outcome.success, amount=7_000, phone=member.phone, receipt="RRACED0001",
            )  # fmt: skip
            assert await post(client, org.url("stk"), orjson.dumps(body)) == 200
            await tasks.drain(db, org.tenant.id)
            async with db.session(tenant_id=org.tenant.id) as s:
                raced = co + "raced"
                s.add(StkRequest(id=uuid.uuid4(), tenant_id=org.tenant.id,
                                 checkout_request_id=raced, member_id=member.id))  # fmt: skip

            clock.advance(600)
            sandbox.results[co + "young"] = Outcome.cancelled
            await _initiate(db, org, member, co + "young")
            async with db.session(tenant_id=org.tenant.id) as s:
                await s.execute(
                    update(StkRequest)
                    .where(StkRequest.checkout_request_id == co + "young")
                    .values(created_at=clock.utcnow())
                )

            report = await reconcile.reconcile_all(db, tenant_id=org.tenant.id)
            assert (report.adopted, report.settled, report.paid_awaiting_callback) == (1, 1, 1)
            assert report.still_open == 1 and report.errors == 0
            got = {
                k.removeprefix(co): (str(r.status), r.result_code, r.receipt)
                for k, r in (await _requests(db, org)).items()
            }
            assert got == {
                "cancelled": ("cancelled", 1032, None),
                "unanswered": ("initiated", None, None),
                "paid": ("initiated", 0, None),
                "raced": ("succeeded", None, "RRACED0001"),
                "young": ("initiated", None, None),
            }
            assert sorted(sandbox.queried) == [co + "cancelled", co + "paid", co + "unanswered"]

            # The periodic job runs the same pass: settled requests are not asked again.
            sandbox.queried.clear()
            await tasks.reconcile_stk(0)
            mine = sorted(q for q in sandbox.queried if q.startswith(co))
            assert mine == [co + "paid", co + "unanswered"]
        finally:
            factory.set_adapter(None)

    async def test_unreachable_mpesa_leaves_requests_open(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org)

        class Down(CountingSandbox):
            async def stk_query(self, checkout_request_id: str) -> StkQueryResult:
                raise ConnectionError("no route to Daraja")

        factory.set_adapter(Down())
        try:
            await _initiate(db, org, member, "co_down")
            clock.advance(600)
            report = await reconcile.reconcile_all(db, tenant_id=org.tenant.id)
            assert report.errors == 1 and report.settled == 0
            assert str((await _requests(db, org))["co_down"].status) == "initiated"
        finally:
            factory.set_adapter(None)
