"""M-Pesa callbacks end to end: exactly-once deposits, suspense and matching, verification."""

from __future__ import annotations

import orjson
from httpx import AsyncClient
from sqlalchemy import func, select

from ludus.core.kit.db import Database
from ludus.core.ledger import service as ledger
from ludus.core.ledger.verify import verify
from ludus.savings import deposits, repository, tasks
from ludus.savings.models import Deposit, MpesaCallback
from ludus.savings.mpesa.sandbox import Outcome, stk_callback_body
from tests.savings.factories import Org, add_member, c2b, make_org, post


async def _drain(db: Database, org: Org) -> int:
    return await tasks.drain(db, org.tenant.id)


async def _deposits(db: Database, org: Org) -> list[Deposit]:
    async with db.session(tenant_id=org.tenant.id) as s:
        rows = await s.execute(select(Deposit).where(Deposit.tenant_id == org.tenant.id))
        return list(rows.scalars())


async def _balance(db: Database, org: Org, account_id: object) -> int:
    async with db.session(tenant_id=org.tenant.id) as s:
        return (await ledger.get_balance(s, tenant_id=org.tenant.id, account_id=account_id)).posted  # type: ignore[arg-type]


async def _verify_clean(db: Database, org: Org) -> None:
    async with db.session(system=True) as s:
        report = await verify(s, tenant_id=org.tenant.id)
    assert report.ok, [c for c in report.failed]


class TestExactlyOnce:
    async def test_same_c2b_confirmation_three_times(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org, "Wanjiru")
        body = c2b("RKT1AAA111", 150_000, member.account_ref)
        for _ in range(3):
            assert await post(client, org.url("confirmation"), body) == 200
        assert await _drain(db, org) == 1
        assert await post(client, org.url("confirmation"), body) == 200  # after processing too
        await _drain(db, org)
        rows = await _deposits(db, org)
        assert [(d.receipt, d.amount, d.member_id) for d in rows] == [
            ("RKT1AAA111", 150_000, member.id)
        ]
        async with db.session(tenant_id=org.tenant.id) as s:
            cb = (await s.execute(select(MpesaCallback))).scalars().one()
            assert cb.deliveries == 4 and cb.raw_body == body
        assert await _balance(db, org, member.savings_account_id) == 150_000
        await _verify_clean(db, org)

    async def test_stk_callback_before_after_and_without_initiation(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org, "Otieno")

        def stk(checkout: str, receipt: str, amount: int) -> bytes:
            body = stk_callback_body(
                merchant_request_id="m-" + checkout, checkout_request_id=checkout,
                outcome=Outcome.success, amount=amount, phone=member.phone, receipt=receipt,
            )  # fmt: skip
            return orjson.dumps(body)

        async def initiate(checkout: str, amount: int) -> None:
            async with db.session(tenant_id=org.tenant.id) as s:
                o = await repository.get_org(s, org.tenant.id)
                assert o is not None
                await deposits.record_stk_initiation(
                    s, o, checkout_request_id=checkout, merchant_request_id="m-" + checkout,
                    member=member, amount=amount, phone=member.phone,
                )  # fmt: skip

        # 1. callback first, initiation recorded afterwards
        assert await post(client, org.url("stk"), stk("ws_CO_before", "RBEFORE001", 10_000)) == 200
        await _drain(db, org)
        await initiate("ws_CO_before", 10_000)
        # 2. initiation first, then the callback (twice)
        await initiate("ws_CO_after", 20_000)
        for _ in range(2):
            await post(client, org.url("stk"), stk("ws_CO_after", "RAFTER0001", 20_000))
        # 3. no initiation at all: matched by phone number
        await post(client, org.url("stk"), stk("ws_CO_orphan", "RORPHAN001", 40_000))
        # the same payment also reported by the C2B confirmation (same receipt)
        await post(client, org.url("confirmation"), c2b("RAFTER0001", 20_000, member.account_ref))
        await _drain(db, org)

        rows = sorted((d.receipt, d.amount, d.member_id) for d in await _deposits(db, org))
        assert rows == [
            ("RAFTER0001", 20_000, member.id),
            ("RBEFORE001", 10_000, member.id),
            ("RORPHAN001", 40_000, member.id),
        ]
        async with db.session(tenant_id=org.tenant.id) as s:
            before = await repository.stk_by_checkout(s, org.tenant.id, "ws_CO_before")
            after = await repository.stk_by_checkout(s, org.tenant.id, "ws_CO_after")
            assert before is not None and before.status == "succeeded"
            assert before.receipt == "RBEFORE001"
            assert after is not None and after.status == "succeeded"
        assert await _balance(db, org, member.savings_account_id) == 70_000
        await _verify_clean(db, org)

    async def test_failed_stk_results_move_no_money(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org)
        for checkout, outcome in (("c1", Outcome.cancelled), ("c2", Outcome.insufficient_funds)):
            body = stk_callback_body(
                merchant_request_id="m", checkout_request_id=checkout, outcome=outcome,
                amount=5_000, phone=member.phone,
            )  # fmt: skip
            await post(client, org.url("stk"), orjson.dumps(body))
        await _drain(db, org)
        assert await _deposits(db, org) == []


class TestSuspense:
    async def test_unknown_reference_goes_to_suspense_and_admin_matches(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        member = await add_member(db, org, "Akinyi")
        await post(client, org.url("confirmation"), c2b("RSUSP00001", 75_000, "NOSUCHREF"))
        await _drain(db, org)
        queue = await client.get(
            "/api/v1/savings/transactions?status=suspense", headers=org.admin.headers
        )
        assert queue.status_code == 200
        items = queue.json()["data"]["items"]
        assert [(i["receipt"], i["member_id"]) for i in items] == [("RSUSP00001", None)]
        async with db.session(tenant_id=org.tenant.id) as s:
            o = await repository.get_org(s, org.tenant.id)
            assert o is not None
            suspense_account = o.suspense_account_id
        assert await _balance(db, org, suspense_account) == 75_000

        resp = await client.post(
            f"/api/v1/savings/transactions/{items[0]['id']}/match",
            json={"member_id": str(member.id)},
            headers=org.admin.headers,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["status"] == "matched"
        assert await _balance(db, org, suspense_account) == 0
        assert await _balance(db, org, member.savings_account_id) == 75_000
        again = await client.post(
            f"/api/v1/savings/transactions/{items[0]['id']}/match",
            json={"member_id": str(member.id)},
            headers=org.admin.headers,
        )
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "SAVINGS_NOT_IN_SUSPENSE"
        badges = await client.get(
            f"/api/v1/savings/members/{member.id}/achievements", headers=org.admin.headers
        )
        assert [b["code"] for b in badges.json()["data"]] == ["first_deposit"]
        await _verify_clean(db, org)


class TestVerification:
    async def test_bad_token_or_source_is_refused_and_not_stored(
        self, client: AsyncClient, db: Database
    ) -> None:
        org = await make_org(db)
        body = c2b("RBAD000001", 1_000, "X")
        bad = f"/api/v1/savings/mpesa/{org.tenant.slug}/wrong-token/confirmation"
        resp = await client.post(bad, content=body)
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "MPESA_CALLBACK_FORBIDDEN"
        async with db.session(tenant_id=org.tenant.id) as s:
            o = await repository.get_org(s, org.tenant.id)
            assert o is not None
            o.callback_allowed_ips = ["196.201.214.200"]
        assert await post(client, org.url("confirmation"), body) == 403
        async with db.session(tenant_id=org.tenant.id) as s:
            assert await s.scalar(select(func.count()).select_from(MpesaCallback)) == 0

    async def test_malformed_body_is_a_400(self, client: AsyncClient, db: Database) -> None:
        org = await make_org(db)
        resp = await client.post(org.url("confirmation"), content=b'{"TransID": ""}')
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "MPESA_MALFORMED_CALLBACK"
