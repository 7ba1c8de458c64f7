"""Streak rules: local calendar days (zoneinfo), DST days, shields and insurance."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from ludus.engagement import errors
from ludus.engagement.rules import StreakRules
from ludus.engagement.streaks import (
    StreakState,
    activate_shield,
    multiplier_for,
    record,
    restore,
    settle,
)

DAILY = StreakRules()
WEEKLY = StreakRules(period="weekly")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestTimezones:
    def test_same_instants_count_differently_per_timezone(self) -> None:
        first, second = at("2026-06-01T14:30:00+00:00"), at("2026-06-01T15:30:00+00:00")
        tokyo, la = StreakState(timezone="Asia/Tokyo"), StreakState(timezone="America/Los_Angeles")
        for state in (tokyo, la):
            record(state, first, DAILY)
            record(state, second, DAILY)
        # Tokyo: 23:30 Jun 1 then 00:30 Jun 2 → two local days. LA: 07:30 and 08:30 Jun 1.
        assert (tokyo.current, la.current) == (2, 1)
        assert tokyo.deadline == at("2026-06-03T15:00:00+00:00")  # 00:00 Jun 4 JST
        assert la.deadline == at("2026-06-03T07:00:00+00:00")  # 00:00 Jun 3 PDT

    def test_spring_forward_day_of_23_hours(self) -> None:
        ny = StreakState(timezone="America/New_York")
        record(ny, at("2026-03-07T23:30:00-05:00"), DAILY)  # Sat, EST
        out = record(ny, at("2026-03-08T23:30:00-04:00"), DAILY)  # Sun, EDT: 23 h later
        assert out.counted and ny.current == 2
        # The streak survives until local midnight starting Tuesday Mar 10 (EDT, UTC-4).
        assert ny.deadline == at("2026-03-10T04:00:00+00:00")
        record(ny, at("2026-03-10T00:10:00-04:00"), DAILY)  # Monday skipped
        assert (ny.current, ny.longest, ny.broken_length) == (1, 2, 2)

    def test_fall_back_day_of_25_hours(self) -> None:
        ny = StreakState(timezone="America/New_York")
        record(ny, at("2026-10-31T00:30:00-04:00"), DAILY)
        # 48 h 29 min later but still the next calendar day (Nov 1 has 25 hours).
        record(ny, at("2026-11-01T23:59:00-05:00"), DAILY)
        assert ny.current == 2
        assert ny.deadline == at("2026-11-03T05:00:00+00:00")  # midnight EST

    def test_same_day_and_out_of_order_actions_do_not_count(self) -> None:
        s = StreakState(timezone="Europe/Berlin")
        record(s, at("2026-05-02T09:00:00+02:00"), DAILY)
        assert "same_period" in record(s, at("2026-05-02T23:00:00+02:00"), DAILY).notes
        assert "out_of_order" in record(s, at("2026-05-01T12:00:00+02:00"), DAILY).notes
        assert s.current == 1

    def test_weekly_streak_uses_iso_weeks_in_local_time(self) -> None:
        s = StreakState(timezone="Asia/Kolkata")
        record(s, at("2026-01-05T08:00:00+05:30"), WEEKLY)  # Monday
        record(s, at("2026-01-18T23:00:00+05:30"), WEEKLY)  # Sunday of the next week
        assert s.current == 2
        record(s, at("2026-02-02T10:00:00+05:30"), WEEKLY)  # skipped a whole week
        assert (s.current, s.broken_length) == (1, 2)

    def test_multiplier_table(self) -> None:
        assert [multiplier_for(d, DAILY) for d in (0, 6, 7, 13, 14, 30, 60, 89, 90, 400)] == [
            Decimal(x) for x in ("1", "1.0", "1.1", "1.1", "1.2", "1.3", "1.4", "1.4", "1.5", "1.5")
        ]

    def test_milestone_reported_on_day_seven(self) -> None:
        s = StreakState()
        start = at("2026-01-01T12:00:00+00:00")
        outs = [record(s, start + timedelta(days=i), DAILY) for i in range(7)]
        assert [o.milestone for o in outs] == [None] * 6 + [7]


def _streak(days: int, tz: str = "UTC") -> StreakState:
    s = StreakState(timezone=tz)
    for i in range(days):
        record(s, at("2026-04-01T20:00:00+00:00") + timedelta(days=i), DAILY)
    return s  # last action Apr <days> 20:00 UTC


class TestShield:
    def test_shield_bought_in_time_bridges_one_missed_day(self) -> None:
        s = _streak(5)  # last action Apr 5
        until = activate_shield(s, at("2026-04-06T22:00:00+00:00"), DAILY)
        assert until == at("2026-04-08T00:00:00+00:00")  # one more day than Apr 7 00:00
        record(s, at("2026-04-07T18:00:00+00:00"), DAILY)  # Apr 6 missed
        assert s.current == 6 and s.shield_until is None

    def test_bought_too_late(self) -> None:
        s = _streak(5)
        with pytest.raises(errors.ShieldTooLate):
            activate_shield(s, at("2026-04-07T00:00:00+00:00"), DAILY)  # at the deadline

    def test_bought_twice(self) -> None:
        s = _streak(5)
        activate_shield(s, at("2026-04-06T01:00:00+00:00"), DAILY)
        with pytest.raises(errors.ShieldActive):
            activate_shield(s, at("2026-04-06T02:00:00+00:00"), DAILY)

    def test_cooldown_after_use(self) -> None:
        s = _streak(5)
        activate_shield(s, at("2026-04-06T01:00:00+00:00"), DAILY)
        record(s, at("2026-04-06T10:00:00+00:00"), DAILY)  # used up by acting
        with pytest.raises(errors.ShieldCooldown):
            activate_shield(s, at("2026-04-07T10:00:00+00:00"), DAILY)
        for i in range(1, 31):  # keep the streak alive until May 6
            record(s, at("2026-04-06T10:00:00+00:00") + timedelta(days=i), DAILY)
        assert activate_shield(s, at("2026-05-06T11:00:00+00:00"), DAILY)

    def test_no_streak(self) -> None:
        with pytest.raises(errors.NoStreak):
            activate_shield(StreakState(), at("2026-04-06T01:00:00+00:00"), DAILY)


class TestInsurance:
    def test_restores_within_window_then_continues(self) -> None:
        s = _streak(10)  # deadline Apr 12 00:00
        assert restore(s, at("2026-04-12T08:00:00+00:00"), DAILY) == 10
        record(s, at("2026-04-12T09:00:00+00:00"), DAILY)
        assert s.current == 11

    def test_after_a_restart_the_missed_day_is_forgiven(self) -> None:
        s = _streak(10)
        record(s, at("2026-04-12T07:00:00+00:00"), DAILY)  # broke; new streak of 1
        assert restore(s, at("2026-04-12T08:00:00+00:00"), DAILY) == 11

    def test_too_late(self) -> None:
        s = _streak(10)
        with pytest.raises(errors.InsuranceExpired):
            restore(s, at("2026-04-13T00:00:01+00:00"), DAILY)

    def test_twice(self) -> None:
        s = _streak(10)
        restore(s, at("2026-04-12T08:00:00+00:00"), DAILY)
        with pytest.raises(errors.NotBroken):
            restore(s, at("2026-04-12T09:00:00+00:00"), DAILY)

    def test_nothing_broken(self) -> None:
        s = _streak(3)
        with pytest.raises(errors.NotBroken):
            restore(s, at("2026-04-03T22:00:00+00:00"), DAILY)
        assert settle(s, at("2026-04-05T00:00:00+00:00")) == 3
