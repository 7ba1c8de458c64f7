from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ludus.paya import usernames
from ludus.paya.config import FraudRules, NewAccount
from ludus.paya.rules import (
    CIRCULAR,
    LOAD_THEN_SEND,
    MONEY_MULE,
    PRIVATE_ONLY,
    VELOCITY,
    Activity,
    LoadFact,
    PaymentFact,
    evaluate,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RULES = FraudRules()
NEW = NewAccount()


def ids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def pay(a: uuid.UUID, b: uuid.UUID, minutes_ago: float = 0, public: bool = True) -> PaymentFact:
    return PaymentFact(a, b, 5, public, NOW - timedelta(minutes=minutes_ago))


def activity(payment: PaymentFact, history: list[PaymentFact], **kw: object) -> Activity:
    return Activity(now=NOW, payment=payment, recent=[*history, payment], **kw)  # type: ignore[arg-type]


def rules_fired(act: Activity) -> set[str]:
    return {f.rule for f in evaluate(act, RULES, NEW)}


class TestVelocity:
    def test_fires_on_fifth_payment_to_same_recipient_in_an_hour(self) -> None:
        a, b = ids(2)
        history = [pay(a, b, m) for m in (50, 40, 30, 20)]
        findings = evaluate(activity(pay(a, b), history), RULES, NEW)
        velocity = [f for f in findings if f.rule == VELOCITY]
        assert len(velocity) == 1 and velocity[0].user_id == a
        assert velocity[0].details["count"] == 5

    def test_quiet_when_spread_out_or_to_different_people(self) -> None:
        a, b, c, d, e = ids(5)
        spread = [pay(a, b, m) for m in (200, 150, 100, 61)]
        assert VELOCITY not in rules_fired(activity(pay(a, b), spread))
        varied = [pay(a, r, 10) for r in (c, d, e, b)]
        assert VELOCITY not in rules_fired(activity(pay(a, b), varied))


class TestMoneyMule:
    def test_fires_on_ten_unique_senders_in_a_day(self) -> None:
        mule = uuid.uuid4()
        senders = ids(10)
        history = [pay(s, mule, 60 * i) for i, s in enumerate(senders[:9])]
        findings = evaluate(activity(pay(senders[9], mule), history), RULES, NEW)
        assert [(f.rule, f.user_id) for f in findings if f.rule == MONEY_MULE] == [
            (MONEY_MULE, mule)
        ]

    def test_quiet_for_nine_senders_or_old_payments(self) -> None:
        mule = uuid.uuid4()
        senders = ids(10)
        nine = [pay(s, mule, 30) for s in senders[:8]]
        assert MONEY_MULE not in rules_fired(activity(pay(senders[8], mule), nine))
        old = [pay(s, mule, 25 * 60) for s in senders[:9]]
        assert MONEY_MULE not in rules_fired(activity(pay(senders[9], mule), old))


class TestCircular:
    def test_fires_on_a_three_party_loop_within_24h(self) -> None:
        a, b, c = ids(3)
        history = [pay(b, c, 120), pay(c, a, 60)]
        findings = [
            f for f in evaluate(activity(pay(a, b), history), RULES, NEW) if f.rule == CIRCULAR
        ]
        assert len(findings) == 1
        assert findings[0].details["cycle"] == [str(a), str(b), str(c), str(a)]

    def test_fires_on_pay_back(self) -> None:
        a, b = ids(2)
        assert CIRCULAR in rules_fired(activity(pay(a, b), [pay(b, a, 30)]))

    def test_quiet_for_a_chain_or_an_old_loop(self) -> None:
        a, b, c, d = ids(4)
        assert CIRCULAR not in rules_fired(activity(pay(a, b), [pay(b, c, 10), pay(c, d, 5)]))
        old = [pay(b, c, 26 * 60), pay(c, a, 25 * 60)]
        assert CIRCULAR not in rules_fired(activity(pay(a, b), old))


class TestLoadThenSend:
    def test_fires_when_loading_then_paying_a_new_account(self) -> None:
        a, fresh = ids(2)
        act = activity(
            pay(a, fresh),
            [],
            loads=[LoadFact(a, 100, NOW - timedelta(minutes=10))],
            created_at={fresh: NOW - timedelta(days=1), a: NOW - timedelta(days=90)},
        )
        assert LOAD_THEN_SEND in rules_fired(act)

    def test_quiet_for_an_established_recipient_or_an_old_load(self) -> None:
        a, old_friend, fresh = ids(3)
        load = [LoadFact(a, 100, NOW - timedelta(minutes=10))]
        established = activity(
            pay(a, old_friend), [], loads=load, created_at={old_friend: NOW - timedelta(days=30)}
        )
        assert LOAD_THEN_SEND not in rules_fired(established)
        stale = activity(
            pay(a, fresh),
            [],
            loads=[LoadFact(a, 100, NOW - timedelta(hours=3))],
            created_at={fresh: NOW - timedelta(days=1)},
        )
        assert LOAD_THEN_SEND not in rules_fired(stale)


class TestPrivateOnly:
    def test_fires_after_five_private_payments_and_no_public_one(self) -> None:
        a, b = ids(2)
        act = activity(
            pay(a, b, public=False), [], sender_sent_in_window=5, sender_public_in_window=0
        )
        assert PRIVATE_ONLY in rules_fired(act)

    def test_quiet_with_one_public_payment_or_few_payments(self) -> None:
        a, b = ids(2)
        mixed = activity(
            pay(a, b, public=False), [], sender_sent_in_window=8, sender_public_in_window=1
        )
        assert PRIVATE_ONLY not in rules_fired(mixed)
        few = activity(pay(a, b, public=False), [], sender_sent_in_window=4)
        assert PRIVATE_ONLY not in rules_fired(few)

    def test_a_normal_payment_fires_nothing(self) -> None:
        a, b = ids(2)
        act = activity(
            pay(a, b),
            [pay(a, uuid.uuid4(), 90)],
            sender_sent_in_window=2,
            sender_public_in_window=2,
            created_at={b: NOW - timedelta(days=40)},
        )
        assert rules_fired(act) == set()


class TestUsernames:
    @pytest.mark.parametrize(
        "raw,canonical", [("@Maria_J", "maria_j"), ("bob123", "bob123"), ("  @Zed  ", "zed")]
    )
    def test_valid_names_are_lowercased(self, raw: str, canonical: str) -> None:
        assert usernames.validate(raw) == canonical

    @pytest.mark.parametrize(
        "raw", ["ab", "1abc", "a__b", "abc_", "a" * 21, "has space", "émile", "x-y"]
    )
    def test_bad_format_is_refused(self, raw: str) -> None:
        with pytest.raises(usernames.InvalidUsername):
            usernames.validate(raw)

    @pytest.mark.parametrize("raw", ["admin", "@Support", "PAYA", "paya_team", "root"])
    def test_reserved_names_are_refused(self, raw: str) -> None:
        with pytest.raises(usernames.ReservedUsername):
            usernames.validate(raw)

    def test_prefix_pattern_escapes_wildcards(self) -> None:
        assert usernames.like_prefix("@Ma_") == "ma\\_%"
