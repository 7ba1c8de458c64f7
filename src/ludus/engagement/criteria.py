"""Declarative badge criteria: validation (pure) and evaluation against stored facts.

    {"all": [c, ...]} / {"any": [c, ...]}
    {"event_count": {"event": "savings.deposit", "min": 5, "window_days": 30}}
    {"amount_sum":  {"event": "savings.deposit", "min": 100000, "window_days": 7}}
    {"streak": {"min": 30}}
    {"level":  {"min": 4}}
    {"rank":   {"event": "challenge.ranked", "max": 3, "window_days": 90}}

Counting criteria look at ingested activity (one row per event id) newer than `since`
(the previous award of a repeatable badge) and inside the optional window.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.engagement import errors
from ludus.engagement.models import Activity, Profile, Streak

LEAVES = {
    "event_count": {"event", "min"},
    "amount_sum": {"event", "min"},
    "streak": {"min"},
    "level": {"min"},
    "rank": {"event", "max"},
}
OPTIONAL = {"window_days"}


def validate(criteria: Any, depth: int = 0) -> None:
    if depth > 5 or not isinstance(criteria, dict) or len(criteria) != 1:
        raise errors.InvalidCriteria(details={"criteria": "one key per node, at most 5 deep"})
    ((kind, body),) = criteria.items()
    if kind in ("all", "any"):
        if not isinstance(body, list) or not body:
            raise errors.InvalidCriteria(details={kind: "needs a non-empty list"})
        for child in body:
            validate(child, depth + 1)
        return
    required = LEAVES.get(kind)
    if required is None or not isinstance(body, dict):
        raise errors.InvalidCriteria(details={"unknown": kind})
    keys = set(body)
    if not required <= keys or keys - required - OPTIONAL:
        raise errors.InvalidCriteria(details={kind: sorted(required | OPTIONAL)})
    for key in keys - {"event"}:
        if not isinstance(body[key], int) or isinstance(body[key], bool) or body[key] < 0:
            raise errors.InvalidCriteria(details={kind: f"{key} must be a non-negative integer"})
    if "event" in body and (not isinstance(body["event"], str) or not body["event"]):
        raise errors.InvalidCriteria(details={kind: "event must be a name"})


@dataclass(frozen=True)
class Subject:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    product: str
    now: datetime
    since: datetime | None = None


async def evaluate(session: AsyncSession, subject: Subject, criteria: dict[str, Any]) -> bool:
    ((kind, body),) = criteria.items()
    if kind == "all":
        for child in body:
            if not await evaluate(session, subject, child):
                return False
        return True
    if kind == "any":
        for child in body:
            if await evaluate(session, subject, child):
                return True
        return False
    if kind == "level":
        level = await session.scalar(
            select(Profile.level).where(
                Profile.tenant_id == subject.tenant_id,
                Profile.user_id == subject.user_id,
                Profile.product == subject.product,
            )
        )
        return (level or 0) >= body["min"]
    if kind == "streak":
        row = (
            await session.execute(
                select(Streak.current, Streak.longest).where(
                    Streak.tenant_id == subject.tenant_id,
                    Streak.user_id == subject.user_id,
                    Streak.product == subject.product,
                )
            )
        ).first()
        return row is not None and max(row[0], row[1]) >= body["min"]
    return await _activity(session, subject, kind, body)


async def _activity(
    session: AsyncSession, subject: Subject, kind: str, body: dict[str, Any]
) -> bool:
    agg = {
        "event_count": func.count(),
        "amount_sum": func.coalesce(func.sum(Activity.amount), 0),
        "rank": func.min(Activity.amount),
    }[kind]
    query = select(agg).where(
        Activity.tenant_id == subject.tenant_id,
        Activity.user_id == subject.user_id,
        Activity.event_type == body["event"],
        Activity.occurred_at <= subject.now,
    )
    if subject.since is not None:
        query = query.where(Activity.occurred_at > subject.since)
    if "window_days" in body:
        query = query.where(
            Activity.occurred_at > subject.now - timedelta(days=body["window_days"])
        )
    value = await session.scalar(query)
    if kind == "rank":
        return value is not None and 0 < int(value) <= body["max"]
    return int(value or 0) >= body["min"]
