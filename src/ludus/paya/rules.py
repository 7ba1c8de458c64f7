"""Fraud rules as pure functions over recent activity (no database, no clock).

Each rule looks at the facts around one movement and returns a Finding or None. The service
in fraud.py gathers the facts, runs `evaluate`, and stores open flags.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ludus.paya.config import FraudRules, NewAccount

VELOCITY = "velocity"
MONEY_MULE = "money_mule"
CIRCULAR = "circular"
LOAD_THEN_SEND = "load_then_send_new_account"
PRIVATE_ONLY = "private_only"
RULES = (VELOCITY, MONEY_MULE, CIRCULAR, LOAD_THEN_SEND, PRIVATE_ONLY)


@dataclass(frozen=True)
class PaymentFact:
    sender: uuid.UUID
    recipient: uuid.UUID
    amount: int
    public: bool
    at: datetime


@dataclass(frozen=True)
class LoadFact:
    user: uuid.UUID
    amount: int
    at: datetime


@dataclass(frozen=True)
class Activity:
    """What the rules may look at: the new payment plus recent history around it."""

    now: datetime
    payment: PaymentFact
    recent: Sequence[PaymentFact]  # last 24 h involving sender or recipient, incl. `payment`
    loads: Sequence[LoadFact] = ()  # the sender's recent loads
    created_at: Mapping[uuid.UUID, datetime] = field(default_factory=dict)
    sender_sent_in_window: int = 0  # payments the sender made in the private-only window
    sender_public_in_window: int = 0


@dataclass(frozen=True)
class Finding:
    user_id: uuid.UUID
    rule: str
    reason: str
    details: dict[str, Any]


def velocity(activity: Activity, rules: FraudRules) -> Finding | None:
    """The sender paid the same recipient N+ times within an hour."""
    p = activity.payment
    since = activity.now - timedelta(hours=1)
    count = sum(
        1 for x in activity.recent if x.sender == p.sender and x.recipient == p.recipient
        and x.at >= since
    )  # fmt: skip
    if count < rules.repeat_recipient_per_hour:
        return None
    return Finding(
        p.sender,
        VELOCITY,
        f"Sent to the same recipient {count} times within an hour.",
        {"recipient": str(p.recipient), "count": count},
    )


def money_mule(activity: Activity, rules: FraudRules) -> Finding | None:
    """The recipient received from N+ different senders within 24 hours."""
    p = activity.payment
    since = activity.now - timedelta(hours=24)
    senders = {x.sender for x in activity.recent if x.recipient == p.recipient and x.at >= since}
    if len(senders) < rules.mule_unique_senders_24h:
        return None
    return Finding(
        p.recipient,
        MONEY_MULE,
        f"Received from {len(senders)} different senders within 24 hours.",
        {"unique_senders": len(senders)},
    )


def circular(activity: Activity, rules: FraudRules) -> Finding | None:
    """Money came back to the sender: recipient → … → sender within the window (≤ 3 hops)."""
    p = activity.payment
    since = activity.now - timedelta(hours=rules.circular_window_hours)
    edges: dict[uuid.UUID, set[uuid.UUID]] = {}
    for x in activity.recent:
        if x.at >= since and x is not p and x.sender != x.recipient:
            edges.setdefault(x.sender, set()).add(x.recipient)
    path = _path(edges, p.recipient, p.sender, max_hops=2)
    if path is None:
        return None
    cycle = [p.sender, *path]
    return Finding(
        p.sender,
        CIRCULAR,
        f"Circular payments among {len(cycle) - 1} accounts within "
        f"{rules.circular_window_hours} hours.",
        {"cycle": [str(u) for u in cycle]},
    )


def _path(
    edges: Mapping[uuid.UUID, set[uuid.UUID]], start: uuid.UUID, goal: uuid.UUID, max_hops: int
) -> list[uuid.UUID] | None:
    frontier: list[list[uuid.UUID]] = [[start]]
    for _ in range(max_hops):
        following: list[list[uuid.UUID]] = []
        for route in frontier:
            for nxt in sorted(edges.get(route[-1], ())):
                if nxt == goal:
                    return [*route, nxt]
                if nxt not in route:
                    following.append([*route, nxt])
        frontier = following
    return None


def load_then_send(
    activity: Activity, rules: FraudRules, new_account: NewAccount
) -> Finding | None:
    """A load shortly before sending to an account still in its cooling period."""
    p = activity.payment
    created = activity.created_at.get(p.recipient)
    if created is None or activity.now - created >= timedelta(days=new_account.cooling_period_days):
        return None
    since = p.at - timedelta(minutes=rules.load_then_send_minutes)
    loads = [x for x in activity.loads if x.user == p.sender and since <= x.at <= p.at]
    if not loads:
        return None
    return Finding(
        p.sender,
        LOAD_THEN_SEND,
        "Loaded funds and sent them on to a new account within "
        f"{rules.load_then_send_minutes} minutes.",
        {"recipient": str(p.recipient), "loaded": sum(x.amount for x in loads)},
    )


def private_only(activity: Activity, rules: FraudRules) -> Finding | None:
    """Many payments in the window and not one of them public."""
    sent = activity.sender_sent_in_window
    if sent < rules.private_only_min_payments or activity.sender_public_in_window > 0:
        return None
    return Finding(
        activity.payment.sender,
        PRIVATE_ONLY,
        f"{sent} payments in {rules.private_only_window_days} days, none of them public.",
        {"payments": sent},
    )


def evaluate(
    activity: Activity, rules: FraudRules, new_account: NewAccount, skip: Collection[str] = ()
) -> list[Finding]:
    """Every rule's finding for this payment, except the rules named in `skip`."""
    checks: dict[str, Callable[[], Finding | None]] = {
        VELOCITY: lambda: velocity(activity, rules),
        MONEY_MULE: lambda: money_mule(activity, rules),
        CIRCULAR: lambda: circular(activity, rules),
        LOAD_THEN_SEND: lambda: load_then_send(activity, rules, new_account),
        PRIVATE_ONLY: lambda: private_only(activity, rules),
    }
    found = (check() for rule, check in checks.items() if rule not in skip)
    return [f for f in found if f is not None]
