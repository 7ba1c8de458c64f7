"""Live challenge progress for a batch of credited deposits.

One pass per drained batch, not per deposit: contributions go in with one insert, each
affected participant is rescored once from all their contributions, ranks of the affected
challenges are refreshed with one statement, and badges are checked once per member.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ludus.core.kit import driver
from ludus.core.tenancy.models import Tenant
from ludus.engagement.challenges import scoring
from ludus.engagement.challenges.models import Challenge, Contribution, Participant
from ludus.savings import badges, progress
from ludus.savings.challenges import PRODUCT
from ludus.savings.models import Deposit, Member

TOP = 3  # moving into the top three is worth a message


class Payer(Protocol):
    """The member a deposit credits (a `Member` row will do)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def user_id(self) -> uuid.UUID: ...


@dataclass(frozen=True)
class Credit:
    """A deposit that landed in a member's savings account."""

    member: Payer
    deposit_id: uuid.UUID
    amount: int
    at: datetime


@dataclass(frozen=True)
class RankUp:
    member_id: uuid.UUID
    challenge_id: uuid.UUID
    challenge: str
    rank: int
    points: int
    deposit_id: uuid.UUID


@dataclass
class Outcome:
    """What the messages job needs: each deposit's running total, and rank climbs."""

    totals: dict[uuid.UUID, int] = field(default_factory=dict)  # deposit id -> member total
    rank_ups: list[RankUp] = field(default_factory=list)


async def apply(session: AsyncSession, tenant: Tenant, credits: list[Credit]) -> Outcome:
    out = Outcome()
    if not credits:
        return out
    by_user: dict[uuid.UUID, list[Credit]] = defaultdict(list)
    for credit in credits:
        by_user[credit.member.user_id].append(credit)
    rows = await session.execute(
        select(Participant, Challenge)
        .join(Challenge, Challenge.id == Participant.challenge_id)
        .where(
            Participant.tenant_id == tenant.id,
            Participant.user_id.in_(list(by_user)),
            Participant.status == "active",
            Challenge.product == PRODUCT,
            Challenge.status == "active",
        )
        .order_by(Participant.id)
        .with_for_update(of=Participant)
    )
    loaded = rows.all()
    entered = [
        {
            "tenant_id": tenant.id,
            "challenge_id": challenge.id,
            "user_id": participant.user_id,
            "event_id": credit.deposit_id,
            "amount": credit.amount,
            "occurred_at": credit.at,
        }
        for participant, challenge in loaded
        for credit in by_user[participant.user_id]
        if challenge.starts_at <= credit.at < challenge.ends_at
    ]
    if entered:
        await _rescore(session, tenant, loaded, entered, by_user, out)
    await _badges_and_totals(session, tenant.id, by_user, out)
    return out


async def _rescore(
    session: AsyncSession,
    tenant: Tenant,
    loaded: Sequence[tuple[Participant, Challenge]],
    entered: list[dict[str, object]],
    by_user: dict[uuid.UUID, list[Credit]],
    out: Outcome,
) -> None:
    new = await driver.fetch(session, _INSERT_CONTRIBUTIONS, {"rows": as_json(entered)})
    pairs = {(challenge_id, user_id) for challenge_id, user_id in new}
    if not pairs:
        return
    entries: dict[tuple[uuid.UUID, uuid.UUID], list[scoring.Entry]] = defaultdict(list)
    # Each rescored participant's contributions, through the (challenge, user) index: the
    # cost follows these members' history, not the whole challenge's.
    challenge_ids, user_ids = zip(*pairs, strict=True)
    params = {"c": list(challenge_ids), "u": list(user_ids)}
    for challenge_id, user_id, at, amount in await driver.fetch(
        session, _PARTICIPANT_ENTRIES, params
    ):
        entries[(challenge_id, user_id)].append(scoring.Entry(at, amount))
    targets = [(p, c) for p, c in loaded if (c.id, p.user_id) in pairs]
    member_of = {user: credits[0].member for user, credits in by_user.items()}
    referrals = await _referrals(session, [c for _, c in targets], member_of)
    scores: dict[str, list[Any]] = {k: [] for k in ("ids", "score", "total", "done", "at")}
    for participant, challenge in targets:
        member = member_of[participant.user_id]
        result = progress.score_of(
            tenant,
            challenge,
            participant,
            entries[(challenge.id, participant.user_id)],
            referrals.get((challenge.id, member.id), 0),
        )
        for name, value in zip(
            scores,
            (participant.id, result.score, result.total, result.completed, result.reached_at),
            strict=True,
        ):
            scores[name].append(value)
        # The loaded object shows the stored values, without a second (ORM) update.
        for attr, value in (
            ("score", result.score),
            ("total", result.total),
            ("completed", result.completed),
            ("reached_at", result.reached_at),
        ):
            set_committed_value(participant, attr, value)
    await driver.execute(session, _STORE_SCORES, scores)
    names = {c.id: c.name for _, c in targets}
    for challenge_id, user_id, before, now_rank, score in await _refresh_ranks(
        session, list(names)
    ):
        if (challenge_id, user_id) not in pairs or now_rank > TOP:
            continue
        if before is None or now_rank < before:
            credits = by_user[user_id]
            out.rank_ups.append(
                RankUp(credits[0].member.id, challenge_id, names[challenge_id], now_rank, score,
                       credits[-1].deposit_id)
            )  # fmt: skip


async def _referrals(
    session: AsyncSession, challenges: list[Challenge], member_of: dict[uuid.UUID, Payer]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """(challenge id, referrer member id) -> referred members who joined that challenge."""
    with_bonus = {c.id for c in challenges if int(c.scoring.get("referral_bonus", 0))}
    if not with_bonus:
        return {}
    rows = await session.execute(
        select(Participant.challenge_id, Member.referred_by, func.count())
        .join(
            Member,
            and_(Member.tenant_id == Participant.tenant_id, Member.user_id == Participant.user_id),
        )
        .where(
            Participant.challenge_id.in_(with_bonus),
            Member.referred_by.in_([m.id for m in member_of.values()]),
        )
        .group_by(Participant.challenge_id, Member.referred_by)
    )
    return {(c, m): int(n) for c, m, n in rows.all() if m is not None}


def as_json(rows: list[dict[str, Any]]) -> str:
    """Rows as one JSON parameter: serialized in C and typed on the server by a table's row
    type (`json_populate_recordset`), where one array per column is dumped by the driver
    element by element."""
    return orjson.dumps(rows).decode()


_CONTRIBUTION_COLUMNS = "tenant_id, challenge_id, user_id, event_id, amount, occurred_at"
# One statement for the batch; the (challenge, event) key makes a deposit count once.
_INSERT_CONTRIBUTIONS = (
    f"INSERT INTO {Contribution.__tablename__} ({_CONTRIBUTION_COLUMNS})"
    f" SELECT {_CONTRIBUTION_COLUMNS} FROM json_populate_recordset("
    f"NULL::{Contribution.__tablename__}, %(rows)s::json)"
    " ON CONFLICT DO NOTHING RETURNING challenge_id, user_id"
)
_PARTICIPANT_ENTRIES = (
    "SELECT c.challenge_id, c.user_id, c.occurred_at, c.amount"
    " FROM unnest(%(c)s::uuid[], %(u)s::uuid[]) AS p(challenge_id, user_id)"
    f" JOIN {Contribution.__tablename__} AS c"
    " ON c.challenge_id = p.challenge_id AND c.user_id = p.user_id"
)
# Every rescored participant in one statement (the rows are locked by `apply`'s read).
_STORE_SCORES = (
    f"UPDATE {Participant.__tablename__} AS p SET score = u.score, total = u.total,"
    " completed = u.done, reached_at = u.at"
    " FROM unnest(%(ids)s::uuid[], %(score)s::bigint[], %(total)s::bigint[],"
    " %(done)s::boolean[], %(at)s::timestamptz[]) AS u(id, score, total, done, at)"
    " WHERE p.id = u.id"
)

# Leaderboard order: score desc, reached first, user id (as the leaderboard endpoint).
_RANKS = f"""
    WITH ranked AS (
        SELECT id, rank AS before, row_number() OVER (
            PARTITION BY challenge_id ORDER BY score DESC, reached_at ASC, user_id ASC) AS pos
        FROM {Participant.__tablename__}
        WHERE challenge_id = ANY(%(ids)s::uuid[]) AND left_at IS NULL
    )
    UPDATE {Participant.__tablename__} AS p SET rank = ranked.pos
    FROM ranked
    WHERE p.id = ranked.id AND p.rank IS DISTINCT FROM ranked.pos
    RETURNING p.challenge_id, p.user_id, ranked.before, ranked.pos, p.score
    """


async def _refresh_ranks(
    session: AsyncSession, challenge_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID, int | None, int, int]]:
    """Store every participant's live rank in these challenges; returns the changed ones."""
    rows = await driver.fetch(session, _RANKS, {"ids": challenge_ids})
    return [(r.challenge_id, r.user_id, r.before, r.pos, r.score) for r in rows]


_TOTALS = (
    f"SELECT member_id, count(*), coalesce(sum(amount), 0) FROM {Deposit.__tablename__}"
    " WHERE tenant_id = %(t)s AND member_id = ANY(%(m)s::uuid[]) GROUP BY member_id"
)


async def _badges_and_totals(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    by_user: dict[uuid.UUID, list[Credit]],
    out: Outcome,
) -> None:
    members = {credits[0].member.id: credits for credits in by_user.values()}
    rows = await driver.fetch(session, _TOTALS, {"t": tenant_id, "m": list(members)})
    awards: list[tuple[uuid.UUID, str, uuid.UUID | None]] = []
    for member_id, count, total in rows:
        assert member_id is not None
        credits = members[member_id]
        user_id = credits[0].member.user_id
        if int(count) == len(credits):
            awards.append((user_id, "first_deposit", credits[0].deposit_id))
        running = int(total) - sum(c.amount for c in credits)
        for credit in credits:
            before, running = running, running + credit.amount
            out.totals[credit.deposit_id] = running
            awards.extend(
                (user_id, code, credit.deposit_id)
                for code, threshold in badges.TOTAL_MILESTONES
                if before < threshold <= running
            )
    await badges.award_many(session, tenant_id, awards)
