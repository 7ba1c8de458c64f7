"""The §4.2 endpoints over HTTP: month-end reports, budgets, transfers, goals, orders, loans."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from ludus.core.kit.db import Database
from ludus.moneylife import codec
from ludus.moneylife.engine import (
    advance_day,
    canonical_json,
    create_game,
    load_content,
    state_checksum,
)
from tests.factories import Actor, make_actor, make_tenant
from tests.moneylife.service.factories import make_game
from tests.moneylife.service.helpers import clear_cards, summary


class TestCodec:
    def test_codec_bytes_equal_engine_canonical_json(self) -> None:
        content = load_content("v1")
        state, _ = create_game(content, "parent", "hard", "USD", 42)
        for _ in range(40):
            state, _ = advance_day(state, [{"type": "skip_all_cards"}], content, auto=True)
        blob = codec.dumps(state)
        assert blob.decode() == canonical_json(state)
        assert codec.checksum_of(blob) == state_checksum(state)
        assert canonical_json(codec.loads(blob)) == canonical_json(state)


async def _post(client: AsyncClient, actor: Actor, path: str, body: dict[str, Any]) -> Any:
    return await client.post(path, json=body, headers=actor.headers)


class TestMonthEndOverHttp:
    async def test_crossing_month_end_writes_report_chi_and_budget(
        self, client: AsyncClient, db: Database
    ) -> None:
        tenant = await make_tenant(db)
        actor = await make_actor(db, tenant)
        game_id = str(await make_game(db, tenant.id, actor.user.id, days=30, seed=3))
        version = await clear_cards(client, actor, game_id)
        info = await summary(client, actor, game_id)
        assert info["current_game_date"] == "2027-01-31"
        resp = await _post(
            client,
            actor,
            f"/api/v1/game/{game_id}/advance-day",
            {"current_game_date": "2027-01-31", "state_version": version},
        )
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert data["new_game_date"] == "2027-02-01"
        assert "MONTH_END" in [e["type"] for e in data["events"]]
        again = await _post(
            client,
            actor,
            f"/api/v1/game/{game_id}/advance-day",
            {"current_game_date": "2027-01-31", "state_version": data["state_version"]},
        )
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "GAME_DATE_MISMATCH"

        base = f"/api/v1/game/{game_id}"
        reports = (await client.get(base + "/reports", headers=actor.headers)).json()["data"]
        assert [r["game_month"] for r in reports["reports"]] == ["2027-01-01"]
        one = (await client.get(base + "/reports/2027-01", headers=actor.headers)).json()["data"]
        month_end = next(e for e in data["events"] if e["type"] == "MONTH_END")
        assert one["net_worth"] == month_end["report"]["net_worth"]
        assert one["income_total"] > 0
        chi = (await client.get(base + "/chi-history", headers=actor.headers)).json()["data"]
        assert chi["history"][0]["score"] == month_end["report"]["chi_score"]
        budget = (await client.get(base + "/budget/current", headers=actor.headers)).json()["data"]
        assert budget["game_month"] == "2027-02-01"

        page = await client.get(
            base + "/transactions?limit=5&category=housing", headers=actor.headers
        )
        body = page.json()
        assert page.status_code == 200
        assert all(t["category"] == "housing" for t in body["data"]["items"])
        assert body["pagination"]["total"] >= 1
        jan = await client.get(
            base + "/transactions?from_date=2027-01-31&to_date=2027-01-31&limit=100",
            headers=actor.headers,
        )
        items = jan.json()["data"]["items"]
        salary = [t for t in items if t["type"] == "income"]
        assert any(t["is_automated"] for t in salary)  # the month-end salary
        missing = await client.get(base + "/reports/2027-05", headers=actor.headers)
        assert missing.status_code == 404


class TestMoneyEndpoints:
    async def test_transfer_budget_goals_orders_loans_autopay(
        self, client: AsyncClient, db: Database
    ) -> None:
        actor = await make_actor(db, await make_tenant(db))
        resp = await _post(
            client, actor, "/api/v1/game/create", {"persona": "young_adult", "difficulty": "normal"}
        )
        game_id = resp.json()["data"]["game_id"]
        base = f"/api/v1/game/{game_id}"
        accounts = (await client.get(base + "/accounts", headers=actor.headers)).json()["data"]
        by_type = {a["type"]: a for a in accounts["accounts"]}
        checking, savings = by_type["checking"], by_type["savings"]
        version = (await summary(client, actor, game_id))["state_version"]

        resp = await _post(
            client,
            actor,
            f"{base}/accounts/{checking['id']}/transfer",
            {"to_account_id": savings["id"], "amount": 12_345, "state_version": version},
        )
        assert resp.status_code == 200, resp.text
        moved = resp.json()["data"]
        assert moved["from_balance"] == checking["balance"] - 12_345
        assert moved["to_balance"] == savings["balance"] + 12_345
        version = moved["state_version"]
        resp = await _post(
            client,
            actor,
            f"{base}/accounts/{checking['id']}/transfer",
            {"to_account_id": savings["id"], "amount": 10**10, "state_version": version},
        )
        assert resp.status_code == 422
        assert resp.json()["error"]["code"] in ("INSUFFICIENT_FUNDS", "INVALID_AMOUNT")

        state = (await client.get(base, headers=actor.headers)).json()["data"]["state"]
        resp = await _post(client, actor, f"{base}/budget", {"allocations": state["allocations"]})
        assert (
            resp.status_code == 200 and resp.json()["data"]["allocations"] == state["allocations"]
        )
        resp = await _post(client, actor, f"{base}/budget", {"allocations": {"housing": -5}})
        assert resp.status_code == 422

        resp = await _post(
            client,
            actor,
            f"{base}/savings-goals",
            {
                "account_id": savings["id"],
                "name": "Bike",
                "target_amount": 50_000,
                "deadline": "2027-06-30",
            },
        )
        assert resp.status_code == 201, resp.text
        goal = resp.json()["data"]["goal"]
        assert goal["deadline_game_date"] == "2027-06-30"
        resp = await client.put(
            f"{base}/savings-goals/{goal['id']}",
            headers=actor.headers,
            json={"target_amount": 60_000},
        )
        assert resp.json()["data"]["goal"]["target_amount"] == 60_000
        resp = await client.delete(f"{base}/savings-goals/{goal['id']}", headers=actor.headers)
        assert resp.status_code == 204

        brokerage = by_type.get("brokerage")
        if brokerage is not None:
            resp = await _post(
                client,
                actor,
                f"{base}/investments/order",
                {
                    "account_id": brokerage["id"],
                    "asset_type": "index",
                    "action": "buy",
                    "amount": 5_000,
                },
            )
            if resp.status_code == 201:
                order = resp.json()["data"]
                assert order["status"] == "queued" and order["executes_on"] > "2027-01-01"
                inv = (await client.get(f"{base}/investments", headers=actor.headers)).json()
                assert [o["order_id"] for o in inv["data"]["orders"]] == [order["order_id"]]
                resp = await client.delete(
                    f"{base}/investments/order/{order['order_id']}", headers=actor.headers
                )
                assert resp.json()["data"]["cancelled"] is True

        resp = await _post(
            client,
            actor,
            f"{base}/loan/apply",
            {"type": "personal_loan", "amount": 2_000_000, "term_months": 36},
        )
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "LOCKED"
        resp = await _post(
            client,
            actor,
            f"{base}/loan/apply",
            {"type": "student_loan", "amount": 1_000_000, "term_months": 120},
        )
        assert resp.status_code == 200, resp.text
        loan = resp.json()["data"]
        assert loan["approved"] is True and loan["loan_details"]
        accounts = (await client.get(base + "/accounts", headers=actor.headers)).json()["data"]
        assert sum(a["type"] == "student_loan" for a in accounts["accounts"]) == 2

        card = by_type.get("credit_card")
        if card is not None:
            resp = await _post(
                client, actor, f"{base}/accounts/{card['id']}/auto-pay", {"setting": "full"}
            )
            assert resp.status_code == 204
            accounts = (await client.get(base + "/accounts", headers=actor.headers)).json()
            after = next(a for a in accounts["data"]["accounts"] if a["id"] == card["id"])
            assert after["auto_pay_setting"] == "full"
        resp = await _post(client, actor, f"{base}/accounts/nope/auto-pay", {"setting": "full"})
        assert resp.status_code == 404
