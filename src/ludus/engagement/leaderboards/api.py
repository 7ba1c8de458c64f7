"""Leaderboard routes: /leaderboards/{global|friends|classroom|team}."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import User
from ludus.core.http.session import DbSession
from ludus.core.kit import clock
from ludus.core.kit.errors import Forbidden
from ludus.core.kit.pagination import PageQuery
from ludus.core.kit.schemas import Envelope, Schema, ok
from ludus.core.tenancy.models import Tenant
from ludus.engagement import social
from ludus.engagement.deps import CurrentCaller
from ludus.engagement.leaderboards.base import Entry
from ludus.engagement.leaderboards.service import (
    backend_for,
    metric_board,
    period_key,
    subset_board,
)

router = APIRouter(prefix="/leaderboards", tags=["leaderboards"])


class EntryOut(Schema):
    rank: int
    user_id: uuid.UUID
    display_name: str | None
    score: int
    reached_at: datetime


class BoardOut(Schema):
    scope: str
    metric: str
    period: str
    total: int
    entries: list[EntryOut]
    me: EntryOut | None
    around_me: list[EntryOut]


async def entries_out(session: AsyncSession, rows: Sequence[Entry]) -> list[EntryOut]:
    names = (
        dict(
            (
                await session.execute(
                    select(User.id, User.display_name).where(
                        User.id.in_([r.member_id for r in rows])
                    )
                )
            )
            .tuples()
            .all()
        )
        if rows
        else {}
    )
    return [
        EntryOut(
            rank=r.rank,
            user_id=r.member_id,
            display_name=names.get(r.member_id),
            score=r.score,
            reached_at=r.reached_at,
        )
        for r in rows
    ]


@router.get("/{scope}", response_model=Envelope[BoardOut])
async def board(
    scope: Literal["global", "friends", "classroom", "team"],
    caller: CurrentCaller,
    session: DbSession,
    page: PageQuery,
    metric: Annotated[str, Query(max_length=40)] = "xp",
    period: Literal["all", "weekly", "monthly"] = "all",
    classroom_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    radius: Annotated[int, Query(ge=0, le=25)] = 3,
) -> Envelope[BoardOut]:
    tz = await session.scalar(select(Tenant.timezone).where(Tenant.id == caller.tenant_id))
    key = period_key(period, clock.utcnow(), tz or "UTC")
    name = metric_board(metric)
    backend = backend_for(session)
    me_id = caller.user_id
    if scope == "global":
        rows = await backend.top(caller.tenant_id, name, key, page.offset, page.limit)
        total = await backend.count(caller.tenant_id, name, key)
        me = await backend.rank_of(caller.tenant_id, name, key, me_id)
        around = await backend.around(caller.tenant_id, name, key, me_id, radius)
    else:
        if scope == "friends":
            members = [me_id, *await social.friend_ids(session, caller.tenant_id, me_id)]
        else:
            members = await social.member_ids(
                session,
                caller.tenant_id,
                classroom_id=classroom_id if scope == "classroom" else None,
                team_id=team_id if scope == "team" else None,
            )
            if (classroom_id if scope == "classroom" else team_id) is None or (
                me_id not in members
            ):
                raise Forbidden("You are not a member of this group.")
        ranked = await subset_board(
            backend, tenant_id=caller.tenant_id, board=name, period=key, members=members
        )
        total = len(ranked)
        rows = ranked[page.offset : page.offset + page.limit]
        me = next((e for e in ranked if e.member_id == me_id), None)
        around = ranked[max(me.rank - 1 - radius, 0) : me.rank + radius] if me else []
    out_me = (await entries_out(session, [me]))[0] if me else None
    return ok(
        BoardOut(
            scope=scope,
            metric=metric,
            period=key,
            total=total,
            entries=await entries_out(session, rows),
            me=out_me,
            around_me=await entries_out(session, around),
        )
    )
