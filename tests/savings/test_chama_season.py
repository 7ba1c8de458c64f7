"""A scripted 12-week chama: 10 members, 3 teams, one challenge of each of the four types.

Schedule (S = challenge start, midnight Nairobi; week w deposit at S + 7w days + 1 day):
  M0 500/wk weeks 0-11 · M1 500/wk weeks 0-10 · M2 600/wk weeks 0-11
  M3 300/wk weeks 0-3 (+1000 last month) · M4 200/wk weeks 0-9 (+2000 last month)
  M5 100/wk weeks 5-11 · M6 100/wk weeks 0-11 plus 50 on S+2d · M7 100/wk all but week 6
  M8 1000 once in week 2 · M9 nothing
Points are 1 per KES, counted per day; see each challenge for bonuses.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import orjson
from httpx import AsyncClient

from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.ledger import service as ledger
from ludus.core.ledger.verify import verify
from ludus.savings import badges, challenges, lifecycle, tasks
from ludus.savings.challenge_schemas import ChallengeIn, ChallengePatch, JoinIn
from ludus.savings.mpesa.base import daraja_timestamp
from ludus.savings.mpesa.sandbox import c2b_confirmation_body
from tests.factories import token_for
from tests.savings.factories import add_member, make_org, post

NAIROBI = ZoneInfo("Africa/Nairobi")


class TestTwelveWeekChama:
    async def test_final_points_ranks_and_badges(self, client: AsyncClient, db: Database) -> None:
        org = await make_org(db)
        tenant = org.tenant
        m = [await add_member(db, org, f"M{i}") for i in range(10)]
        start = datetime.now(NAIROBI).date()
        s0 = datetime.combine(start, time(0), tzinfo=NAIROBI)
        seq = iter(range(1, 10_000))

        async def pay(i: int, at: datetime, kes: int) -> None:
            body = c2b_confirmation_body(
                trans_id=f"RCH{next(seq):07d}",
                amount=kes * 100,
                bill_ref=m[i].account_ref,
                msisdn="x",
            )
            body["TransTime"] = daraja_timestamp(at)
            assert await post(client, org.url("confirmation"), orjson.dumps(body)) == 200

        # Last calendar month: the percentage challenge's baselines (M3 1000, M4 2000).
        last_month = start.replace(day=1) - timedelta(days=10)
        await pay(3, datetime.combine(last_month, time(12), tzinfo=NAIROBI), 1000)
        await pay(4, datetime.combine(last_month, time(12), tzinfo=NAIROBI), 2000)
        await tasks.drain(db, tenant.id)

        def spec(name: str, kind: str, target: dict, **scoring: object) -> ChallengeIn:
            return ChallengeIn(
                name=name,
                type=kind,
                target=target,
                start_date=start,
                duration_days=84,
                scoring=scoring,
            )  # type: ignore[arg-type]

        async with db.session(tenant_id=tenant.id) as s:
            fixed = await challenges.create(
                s,
                tenant,
                spec(
                    "Fixed",
                    "fixed_amount",
                    {"amount": 50_000, "frequency": "weekly"},
                    early_bird_bonus=50,
                    completion_bonus=1000,
                ),
                actor=None,
            )
            pct = await challenges.create(
                s,
                tenant,
                spec(
                    "Pct", "percentage", {"increase": 10}, early_bird_bonus=50, completion_bonus=300
                ),
                actor=None,
            )
            streak = await challenges.create(
                s,
                tenant,
                spec(
                    "Streak",
                    "streak",
                    {"consecutive_weeks": 12, "min_amount": 10_000},
                    streak_multipliers=[[2, "1.5"]],
                    completion_bonus=500,
                ),
                actor=None,
            )
            group = await challenges.create(
                s,
                tenant,
                spec(
                    "Group",
                    "group",
                    {"team_amount": 1_000_000, "min_members": 3},
                    completion_bonus=200,
                ),
                actor=None,
            )
            teams = [await challenges.add_team(s, tenant, group.id, n, actor=None) for n in "ABC"]
            for c in (fixed, pct, streak, group):
                await challenges.update(
                    s, tenant, c.id, ChallengePatch(status="active"), actor=None
                )
            for i in (0, 1, 2):
                await challenges.join(s, tenant, fixed.id, m[i], JoinIn(), by_admin=True)
            for i in (3, 4, 5):
                await challenges.join(s, tenant, pct.id, m[i], JoinIn(), by_admin=True)
            for i in (6, 7):
                await challenges.join(s, tenant, streak.id, m[i], JoinIn(), by_admin=True)
            team_of = {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 1, 6: 1, 7: 2, 8: 2, 9: 2}
            for i, t in team_of.items():
                await challenges.join(
                    s, tenant, group.id, m[i], JoinIn(team_id=teams[t].id), by_admin=True
                )
            ids = {"fixed": fixed.id, "pct": pct.id, "streak": streak.id, "group": group.id}

        def week(w: int) -> datetime:
            return s0 + timedelta(days=7 * w + 1, hours=9)

        plan = {0: (500, range(12)), 1: (500, range(11)), 2: (600, range(12)), 3: (300, range(4)),
                4: (200, range(10)), 5: (100, range(5, 12)), 6: (100, range(12)),
                7: (100, [w for w in range(12) if w != 6]), 8: (1000, [2])}  # fmt: skip
        for i, (kes, weeks) in plan.items():
            for w in weeks:
                await pay(i, week(w), kes)
        await pay(6, s0 + timedelta(days=2, hours=9), 50)  # the day after M6's first deposit
        await tasks.drain(db, tenant.id)

        live = await client.get(f"/api/v1/savings/challenges/{ids['group']}/leaderboard?limit=3",
                                headers=org.admin.headers)  # fmt: skip
        assert [r["name"] for r in live.json()["data"]["items"]] == ["M2", "M0", "M1"]

        clock.advance(85 * 86400)
        assert await lifecycle.close_due(db) >= 4
        admin = {
            "Authorization": f"Bearer {await token_for(db, org.admin.user, tenant, org.admin.role)}"
        }

        # Hand-computed finals (name: points, rank).
        # Fixed (500/wk, early bird +50 for a deposit in the first 3 days, completion +1000):
        #   M2 7200+50+1000=8250 #1 · M0 6000+50+1000=7050 #2 · M1 5500+50 (11 of 12 weeks)=5550 #3
        # Percentage (+10% over last month, early bird +50, completion +300):
        #   M4 2000+50=2050 (goal 2200 missed) #1 · M3 1200+50+300=1550 (goal 1100 met) #2
        #   M5 700 (no baseline, first deposit in week 5: no early bird) #3
        # Streak (12 weeks >= 100, x1.5 on a 2-day run, completion +500):
        #   M6 100 + 50*1.5 + 11*100 + 500 = 1775 #1 · M7 11*100=1100 (run of 6) #2
        # Group (team 10,000 with >= 3 members, completion +200 each):
        #   team A = 6000+5500+7200+1200 = 19,900 -> complete; B = 2000+700+1250 = 3950; C = 2100
        #   M2 7400 · M0 6200 · M1 5700 · M4 2000 · M3 1400 · M6 1250 · M7 1100 · M8 1000 · M5 700 · M9 0  # noqa: E501
        expected = {
            "fixed": [("M2", 8250, True), ("M0", 7050, True), ("M1", 5550, False)],
            "pct": [("M4", 2050, False), ("M3", 1550, True), ("M5", 700, False)],
            "streak": [("M6", 1775, True), ("M7", 1100, False)],
            "group": [("M2", 7400, True), ("M0", 6200, True), ("M1", 5700, True),
                      ("M4", 2000, False), ("M3", 1400, True), ("M6", 1250, False),
                      ("M7", 1100, False), ("M8", 1000, False), ("M5", 700, False),
                      ("M9", 0, False)],
        }  # fmt: skip
        for key, rows in expected.items():
            resp = await client.get(f"/api/v1/savings/challenges/{ids[key]}/leaderboard",
                                    headers=admin)  # fmt: skip
            got = [(r["name"], r["score"], r["completed"]) for r in resp.json()["data"]["items"]]
            assert got == rows, key
            assert [r["rank"] for r in resp.json()["data"]["items"]] == list(
                range(1, len(rows) + 1)
            )
            info = await client.get(f"/api/v1/savings/challenges/{ids[key]}", headers=admin)
            assert info.json()["data"]["status"] == "completed"

        board = await client.get(f"/api/v1/savings/challenges/{ids['group']}/teams", headers=admin)
        assert [(t["name"], t["score"], t["completed"]) for t in board.json()["data"]] == [
            ("A", 6200 + 5700 + 7400 + 1400, True), ("B", 2000 + 700 + 1250, False), ("C", 2100, False)  # noqa: E501
        ]  # fmt: skip

        # Points on the ledger: the sum of each member's final challenge scores.
        points = {0: 7050 + 6200, 1: 5550 + 5700, 2: 8250 + 7400, 3: 1550 + 1400, 4: 2050 + 2000,
                  5: 700 + 700, 6: 1775 + 1250, 7: 1100 + 1100, 8: 1000}  # fmt: skip
        async with db.session(tenant_id=tenant.id) as s:
            for i, want in points.items():
                account = await ledger.open_account(
                    s,
                    tenant_id=tenant.id,
                    asset="POINT",
                    purpose="savings_points",
                    owner_type="user",
                    owner_id=m[i].user_id,
                )
                bal = await ledger.get_balance(s, tenant_id=tenant.id, account_id=account.id)
                assert bal.posted == want, f"M{i}"
            # Badges: first deposit for everyone who saved; champion = rank 1 (>1 player);
            # podium = top 3 of more than 3; finisher = completed; streak_12 = 12-week run.
            want_badges = {
                0: {"first_deposit", "challenge_finisher", "podium"},
                1: {"first_deposit", "challenge_finisher", "podium"},  # team A completed
                2: {"first_deposit", "champion", "challenge_finisher", "podium"},
                3: {"first_deposit", "challenge_finisher"},
                4: {"first_deposit", "champion"},
                5: {"first_deposit"},
                6: {"first_deposit", "champion", "challenge_finisher", "streak_12"},
                7: {"first_deposit"}, 8: {"first_deposit"}, 9: set(),
            }  # fmt: skip
            for i, want_set in want_badges.items():
                got_set = {b.code for b, _ in await badges.of_user(s, tenant.id, m[i].user_id)}
                assert got_set == want_set, f"M{i}"
        async with db.session(system=True) as s:
            assert (await verify(s, tenant_id=tenant.id)).ok
