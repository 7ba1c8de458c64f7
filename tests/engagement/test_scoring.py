"""Challenge scoring on scripted scenarios; every expected number is worked out by hand in
the comments (amounts in cents with unit=100 for savings, XP points with unit=1 for
MoneyLife)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ludus.engagement.challenges.scoring import (
    Entry,
    Result,
    ScoringRules,
    apply_group_target,
    payouts,
    rank,
    score_one,
    team_ranking,
)

UTCZ = ZoneInfo("UTC")
JAN5 = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


def day(n: int, hour: int = 10) -> datetime:
    return JAN5 + timedelta(days=n, hours=hour)


def ids(n: int) -> list[uuid.UUID]:
    # Sorted so that, where it matters, the id tie-break is predictable.
    return sorted(uuid.uuid4() for _ in range(n))


def run(kind, target, rules, start, end, people, baselines=None, teams=None) -> list[Result]:
    results = [
        score_one(
            kind=kind,
            target=target,
            rules=rules,
            start=start,
            end=end,
            tz=UTCZ,
            user_id=uid,
            team_id=(teams or {}).get(uid),
            entries=entries,
            baseline=(baselines or {}).get(uid, 0),
            joined_at=start,
        )
        for uid, entries in people.items()
    ]
    if kind == "group":
        apply_group_target(results, target, rules)
    return rank(results)


SAVINGS_RULES = ScoringRules(
    points_per_unit=1,
    unit=100,
    streak_multipliers=((3, Decimal("1.5")),),
    early_bird_bonus=50,
    early_bird_days=3,
    completion_bonus=100,
)


class TestSavingsChallenges:
    def test_fixed_amount_weekly(self) -> None:
        alice, bob, carol = ids(3)
        people = {
            # weeks: 1000 ✓, 1000 ✓ → completed. Days not consecutive: 1000 + 1000 = 2000;
            # first deposit Jan 5 < Jan 8 → early bird +50; completion +100 → 2150.
            alice: [Entry(day(0), 100_000), Entry(day(7), 100_000)],
            # weeks: 1500 ✓, 600 ✗. Jan 6: 500, Jan 7: 500 (run 2), Jan 8: 500 × 1.5 = 750
            # (run 3), Jan 13: 600 → 2350; first deposit Jan 6 → +50 → 2400.
            bob: [
                Entry(day(1), 50_000),
                Entry(day(2), 50_000),
                Entry(day(3), 50_000),
                Entry(day(8), 60_000),
            ],
            # week 0 only: 2500 points; first deposit Jan 9 is not early → 2500.
            carol: [Entry(day(4), 250_000)],
        }
        ranked = run(
            "fixed_amount",
            {"amount": 100_000, "frequency": "weekly"},
            SAVINGS_RULES,
            JAN5,
            JAN5 + timedelta(days=14),
            people,
        )
        assert [(r.user_id, r.score, r.rank, r.completed) for r in ranked] == [
            (carol, 2500, 1, False),
            (bob, 2400, 2, False),
            (alice, 2150, 3, True),
        ]
        assert ranked[2].detail == {"periods_met": 2, "periods": 2}

    def test_percentage_increase_over_baseline(self) -> None:
        rules = ScoringRules(points_per_unit=1, unit=100, completion_bonus=200)
        start, end = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
        dan, eve, fay = ids(3)
        people = {
            # goal = ceil(1,000,000 × 110 / 100) = 1,100,000; saved 600,000 + 500,000 = goal ✓
            # points 6000 + 5000 + 200 = 11200
            dan: [
                Entry(start + timedelta(days=1), 600_000),
                Entry(start + timedelta(days=19), 500_000),
            ],
            # goal 550,000, saved 549,999 ✗; 5499.99 rounds half-even to 5500
            eve: [Entry(start + timedelta(days=9), 549_999)],
            # no baseline → cannot complete; 3000 points
            fay: [Entry(start + timedelta(days=2), 300_000)],
        }
        ranked = run(
            "percentage",
            {"increase_pct": 10},
            rules,
            start,
            end,
            people,
            baselines={dan: 1_000_000, eve: 500_000},
        )
        assert [(r.user_id, r.score, r.rank, r.completed) for r in ranked] == [
            (dan, 11200, 1, True),
            (eve, 5500, 2, False),
            (fay, 3000, 3, False),
        ]

    def test_streak_of_consecutive_weeks(self) -> None:
        rules = ScoringRules(points_per_unit=1, unit=100, completion_bonus=100)
        gus, hal, ivy = ids(3)
        people = {
            # weeks 0,1,2 at 100 each (≥ min 100) → run 3 ✓: 300 + 100 = 400
            gus: [Entry(day(0), 10_000), Entry(day(7), 10_000), Entry(day(14), 10_000)],
            # weeks ✓ ✓ ✗ ✓ → longest run 2 ✗: 200 × 3 = 600
            hal: [Entry(day(1), 20_000), Entry(day(8), 20_000), Entry(day(22), 20_000)],
            # 50 a week is under the minimum → run 0: 50 × 4 = 200
            ivy: [Entry(day(7 * w), 5_000) for w in range(4)],
        }
        ranked = run(
            "streak",
            {"consecutive": 3, "period": "weekly", "min_amount": 10_000},
            rules,
            JAN5,
            JAN5 + timedelta(days=28),
            people,
        )
        assert [(r.user_id, r.score, r.rank, r.completed) for r in ranked] == [
            (hal, 600, 1, False),
            (gus, 400, 2, True),
            (ivy, 200, 3, False),
        ]
        assert ranked[1].detail == {"longest_run": 3}

    def test_group_target_with_minimum_members(self) -> None:
        rules = ScoringRules(points_per_unit=1, unit=100, completion_bonus=100)
        red, blue = uuid.uuid4(), uuid.uuid4()
        jay, kim, lea = ids(3)
        people = {
            jay: [Entry(day(0), 60_000)],  # 600 (+100: red reached 1000 with 2 members) = 700
            kim: [Entry(day(1), 40_000)],  # 400 + 100 = 500
            lea: [Entry(day(2), 150_000)],  # 1500; blue has 1 member < 2 → no bonus
        }
        ranked = run(
            "group",
            {"team_amount": 100_000, "min_members": 2},
            rules,
            JAN5,
            JAN5 + timedelta(days=14),
            people,
            teams={jay: red, kim: red, lea: blue},
        )
        assert [(r.user_id, r.score, r.rank, r.completed) for r in ranked] == [
            (lea, 1500, 1, False),
            (jay, 700, 2, True),
            (kim, 500, 3, True),
        ]
        # team sums: blue 1500, red 700 + 500 = 1200
        assert team_ranking(ranked) == [(blue, 1500), (red, 1200)]


XP_RULES = ScoringRules(points_per_unit=1, unit=1)
PERCENTILES = {"percentiles": [[10, 100], [25, 50], [50, 25]], "participation": 10}


class TestMoneyLifeChallenges:
    def test_weekly_percentile_rewards_and_tie(self) -> None:
        a, b, c, d = ids(4)
        people = {
            a: [Entry(day(0), 70), Entry(day(1, 11), 50)],  # 120
            b: [Entry(day(1, 9), 90)],  # 90, reached Jan 6 09:00
            c: [Entry(day(1, 12), 90)],  # 90, reached later → behind b
            d: [Entry(day(2), 10)],  # 10
        }
        ranked = run("weekly", {}, XP_RULES, JAN5, JAN5 + timedelta(days=7), people)
        payouts("weekly", PERCENTILES, ranked)
        # n = 4: top 10% → ranks ≤ ceil(0.4) = 1 → 100; top 25% → ≤ 1 (taken);
        # top 50% → ≤ 2 → 25; others 10.
        assert [(r.user_id, r.score, r.rank, r.coins) for r in ranked] == [
            (a, 120, 1, 100),
            (b, 90, 2, 25),
            (c, 90, 3, 10),
            (d, 10, 4, 10),
        ]

    def test_monthly_with_target_and_streak_multiplier(self) -> None:
        rules = ScoringRules(
            points_per_unit=1,
            unit=1,
            completion_bonus=50,
            streak_multipliers=((2, Decimal("1.1")),),
        )
        start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
        e, f, g = ids(3)
        people = {
            e: [Entry(start + timedelta(days=4), 520)],  # 520 ≥ 500 → 520 + 50 = 570
            f: [Entry(start + timedelta(days=2), 499)],  # 499
            # Jan 10: 300; Jan 11 (run 2): 300 × 1.1 = 330; total 600 ≥ 500 → 630 + 50 = 680
            g: [Entry(start + timedelta(days=9), 300), Entry(start + timedelta(days=10), 300)],
        }
        ranked = run("monthly", {"amount": 500}, rules, start, end, people)
        payouts("monthly", {"places": [300, 200, 100]}, ranked)
        assert [(r.user_id, r.score, r.rank, r.coins) for r in ranked] == [
            (g, 680, 1, 300),
            (e, 570, 2, 200),
            (f, 499, 3, 100),
        ]

    def test_seasonal_early_bird_and_tie_on_reach_time(self) -> None:
        rules = ScoringRules(points_per_unit=1, unit=1, early_bird_bonus=25, early_bird_days=7)
        h, i, j = ids(3)
        people = {
            h: [Entry(day(1), 100)],  # 100 + 25 early = 125, reached day 1
            i: [Entry(day(29), 110)],  # 110
            j: [Entry(day(39), 125)],  # 125, tied with h but reached later
        }
        ranked = run("seasonal", {}, rules, JAN5, JAN5 + timedelta(days=90), people)
        payouts("seasonal", {"places": [500, 250, 100]}, ranked)
        assert [(r.user_id, r.score, r.rank, r.coins) for r in ranked] == [
            (h, 125, 1, 500),
            (j, 125, 2, 250),
            (i, 110, 3, 100),
        ]

    def test_classroom_places_team_bonus_and_teacher_scale(self) -> None:
        t1, t2 = uuid.uuid4(), uuid.uuid4()
        s1, s2, s3, s4, s5 = ids(5)
        people = {
            s1: [Entry(day(0), 300)],
            s2: [Entry(day(0), 100)],
            s3: [Entry(day(0), 250)],
            s4: [Entry(day(0), 200)],
            s5: [Entry(day(0), 50)],
        }
        ranked = run(
            "classroom",
            {},
            XP_RULES,
            JAN5,
            JAN5 + timedelta(days=7),
            people,
            teams={s1: t1, s2: t1, s3: t2, s4: t2},
        )
        rewards = {
            "places": [200, 150, 100],
            "percentiles": [[25, 50]],
            "participation": 25,
            "winning_team_bonus": 100,
            "scale_pct": 50,
        }
        payouts("classroom", rewards, ranked)
        # ranks: s1 300, s3 250, s4 200, s2 100, s5 50. Top 25% = ranks ≤ ceil(1.25) = 2
        # (already places). Teams: t1 = 400, t2 = 450 → t2 wins (+100 each).
        # × 0.5: s1 200→100; s3 (150+100)→75+50=125; s4 (100+100)→50+50=100;
        # s2 25→12; s5 25→12 (integer halves round down)
        assert [(r.user_id, r.rank, r.coins) for r in ranked] == [
            (s1, 1, 100),
            (s3, 2, 125),
            (s4, 3, 100),
            (s2, 4, 12),
            (s5, 5, 12),
        ]

    def test_head_to_head_win_and_tie(self) -> None:
        p1, p2 = ids(2)
        ranked = run(
            "head_to_head",
            {},
            XP_RULES,
            JAN5,
            JAN5 + timedelta(days=7),
            {p1: [Entry(day(0), 60)], p2: [Entry(day(1), 90)]},
        )
        payouts("head_to_head", {}, ranked)
        assert [(r.user_id, r.coins) for r in ranked] == [(p2, 50), (p1, 15)]
        tied = run(
            "head_to_head",
            {},
            XP_RULES,
            JAN5,
            JAN5 + timedelta(days=7),
            {p1: [Entry(day(0), 80)], p2: [Entry(day(1), 80)]},
        )
        payouts("head_to_head", {}, tied)
        # equal score: p1 reached 80 first → rank 1, both get the tie reward 30
        assert [(r.user_id, r.rank, r.coins) for r in tied] == [(p1, 1, 30), (p2, 2, 30)]

    def test_events_outside_the_window_do_not_count(self) -> None:
        (u,) = ids(1)
        ranked = run(
            "weekly",
            {},
            XP_RULES,
            JAN5,
            JAN5 + timedelta(days=7),
            {u: [Entry(JAN5 - timedelta(seconds=1), 500), Entry(day(7, 0), 500), Entry(day(3), 7)]},
        )
        assert ranked[0].score == 7
