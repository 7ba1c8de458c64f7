"""Social graph: friendships (one row per unordered pair), classrooms and teams."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import Membership, User
from ludus.core.kit.errors import Forbidden, NotFound
from ludus.engagement import errors
from ludus.engagement.models import Classroom, ClassroomMember, Friendship, Team
from ludus.engagement.outbox import publish

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def ordered(a: uuid.UUID, b: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    return (a, b) if a < b else (b, a)


async def _is_member(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Membership.id).where(
            Membership.tenant_id == tenant_id, Membership.user_id == user_id
        )
    )
    return found is not None


async def request_friend(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, target_id: uuid.UUID
) -> Friendship:
    if user_id == target_id:
        raise errors.FriendSelf()
    if not await _is_member(session, tenant_id, target_id):
        raise NotFound("User not found.")
    a, b = ordered(user_id, target_id)
    existing = await session.scalar(
        select(Friendship)
        .where(Friendship.tenant_id == tenant_id, Friendship.user_a == a, Friendship.user_b == b)
        .with_for_update()
    )
    if existing is not None:
        if existing.status == "blocked":
            raise errors.FriendBlocked()
        raise errors.FriendExists(
            details={"friendship_id": str(existing.id), "status": existing.status}
        )
    row = Friendship(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_a=a,
        user_b=b,
        status="pending",
        initiated_by=user_id,
    )
    session.add(row)
    await session.flush()
    return row


async def respond(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    friendship_id: uuid.UUID,
    action: str,
) -> Friendship | None:
    """accept / reject (the receiver of a pending request) or block (either side, any time).
    A rejected request is deleted so it can be sent again later; returns None then."""
    row = await session.scalar(
        select(Friendship)
        .where(
            Friendship.id == friendship_id,
            Friendship.tenant_id == tenant_id,
            or_(Friendship.user_a == user_id, Friendship.user_b == user_id),
        )
        .with_for_update()
    )
    if row is None:
        raise NotFound("Friend request not found.")
    if action == "block":
        row.status, row.blocked_by = "blocked", user_id
        await session.flush()
        return row
    if row.status != "pending" or row.initiated_by == user_id:
        raise errors.FriendNotPending(details={"status": row.status})
    if action == "reject":
        await session.delete(row)
        await session.flush()
        return None
    row.status = "accepted"
    await session.flush()
    await publish(
        session, "social.friend.added", tenant_id, {"user_ids": [str(row.user_a), str(row.user_b)]}
    )
    return row


async def friend_ids(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> list[uuid.UUID]:
    rows = await session.execute(
        select(Friendship.user_a, Friendship.user_b).where(
            Friendship.tenant_id == tenant_id,
            Friendship.status == "accepted",
            or_(Friendship.user_a == user_id, Friendship.user_b == user_id),
        )
    )
    return [b if a == user_id else a for a, b in rows]


async def friendships(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, status: str
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Friendship, User)
        .join(
            User,
            or_(
                (Friendship.user_a == user_id) & (User.id == Friendship.user_b),
                (Friendship.user_b == user_id) & (User.id == Friendship.user_a),
            ),
        )
        .where(Friendship.tenant_id == tenant_id, Friendship.status == status)
        .order_by(User.display_name)
    )
    return [
        {
            "friendship_id": f.id,
            "user_id": u.id,
            "display_name": u.display_name,
            "status": f.status,
            "incoming": f.initiated_by != user_id,
        }
        for f, u in rows.tuples()
    ]


# --- classrooms ----------------------------------------------------------------------


async def create_classroom(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    teacher_id: uuid.UUID,
    name: str,
    config: dict[str, Any],
) -> Classroom:
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        taken = await session.scalar(select(Classroom.id).where(Classroom.join_code == code))
        if taken is None:
            break
    row = Classroom(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        teacher_id=teacher_id,
        name=name,
        join_code=code,
        config=config,
        status="active",
    )
    session.add(row)
    await session.flush()
    return row


async def get_classroom(
    session: AsyncSession, tenant_id: uuid.UUID, classroom_id: uuid.UUID
) -> Classroom:
    row = await session.scalar(
        select(Classroom).where(Classroom.id == classroom_id, Classroom.tenant_id == tenant_id)
    )
    if row is None:
        raise NotFound("Classroom not found.")
    return row


async def join_classroom(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, join_code: str
) -> Classroom:
    row = await session.scalar(
        select(Classroom).where(
            Classroom.join_code == join_code.strip().upper(), Classroom.tenant_id == tenant_id
        )
    )
    if row is None:
        raise errors.ClassroomCodeInvalid()
    if row.status != "active":
        raise errors.ClassroomClosed()
    member = await session.scalar(
        select(ClassroomMember).where(
            ClassroomMember.classroom_id == row.id, ClassroomMember.user_id == user_id
        )
    )
    if member is None:
        session.add(
            ClassroomMember(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                classroom_id=row.id,
                user_id=user_id,
                status="active",
            )
        )
    else:
        member.status = "active"
    await session.flush()
    return row


async def create_team(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    classroom_id: uuid.UUID,
    teacher_id: uuid.UUID,
    name: str,
) -> Team:
    classroom = await get_classroom(session, tenant_id, classroom_id)
    if classroom.teacher_id != teacher_id:
        raise Forbidden("Only the teacher manages teams.")
    team = Team(id=uuid.uuid4(), tenant_id=tenant_id, classroom_id=classroom_id, name=name)
    session.add(team)
    await session.flush()
    return team


async def assign_team(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    classroom_id: uuid.UUID,
    teacher_id: uuid.UUID,
    user_id: uuid.UUID,
    team_id: uuid.UUID | None,
) -> ClassroomMember:
    classroom = await get_classroom(session, tenant_id, classroom_id)
    if classroom.teacher_id != teacher_id:
        raise Forbidden("Only the teacher manages teams.")
    if team_id is not None:
        team = await session.scalar(
            select(Team.id).where(Team.id == team_id, Team.classroom_id == classroom_id)
        )
        if team is None:
            raise NotFound("Team not found.")
    member = await session.scalar(
        select(ClassroomMember).where(
            ClassroomMember.classroom_id == classroom_id, ClassroomMember.user_id == user_id
        )
    )
    if member is None:
        raise NotFound("Student not in this classroom.")
    member.team_id = team_id
    await session.flush()
    return member


async def member_ids(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    classroom_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    query = select(ClassroomMember.user_id).where(
        ClassroomMember.tenant_id == tenant_id, ClassroomMember.status == "active"
    )
    if classroom_id is not None:
        query = query.where(ClassroomMember.classroom_id == classroom_id)
    if team_id is not None:
        query = query.where(ClassroomMember.team_id == team_id)
    return list((await session.execute(query)).scalars())


async def my_classrooms(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Sequence[tuple[Classroom, int]]:
    counts = (
        select(ClassroomMember.classroom_id, func.count().label("n"))
        .where(ClassroomMember.status == "active")
        .group_by(ClassroomMember.classroom_id)
        .subquery()
    )
    mine = select(ClassroomMember.classroom_id).where(
        ClassroomMember.user_id == user_id, ClassroomMember.status == "active"
    )
    rows = await session.execute(
        select(Classroom, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.classroom_id == Classroom.id)
        .where(
            Classroom.tenant_id == tenant_id,
            or_(Classroom.teacher_id == user_id, Classroom.id.in_(mine)),
        )
        .order_by(Classroom.name)
    )
    return [(c, int(n)) for c, n in rows.tuples()]
