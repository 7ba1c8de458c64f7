"""Child accounts (spec 004): created by a parent, signing in with a PIN inside the family."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.auth import passwords, repository
from ludus.core.auth.errors import ChildUsernameTaken, InvalidCredentials
from ludus.core.auth.models import ChildProfile, Family, Membership, Role, User, UserStatus
from ludus.core.auth.schemas import ChildCreateIn, ChildLoginIn
from ludus.core.auth.service import (
    SignedIn,
    check_login_rate,
    clear_failures,
    ensure_not_locked,
    finish_login,
    record_failed_login,
)
from ludus.core.auth.sessions import ClientInfo, role_in
from ludus.core.kit import clock
from ludus.core.kit.errors import NotFound, ValidationFailed
from ludus.core.tenancy.models import Tenant

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I look-alikes
CODE_LENGTH = 8


async def family_for_parent(
    session: AsyncSession, tenant_id: uuid.UUID, parent_id: uuid.UUID, *, create: bool
) -> Family | None:
    family = await repository.family_of_owner(session, tenant_id, parent_id)
    if family is None and create:
        family = Family(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            code="".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
            owner_user_id=parent_id,
            created_at=clock.utcnow(),
        )
        session.add(family)
        await session.flush()
    return family


def _base_username(display_name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "", display_name.lower())[:24]
    return base if len(base) >= 2 else "kid"


async def _free_username(
    session: AsyncSession, family: Family, wanted: str | None, name: str
) -> str:
    if wanted:
        taken = await repository.child_in_family(
            session, family.tenant_id, family.id, username=wanted
        )
        if taken is not None:
            raise ChildUsernameTaken(details={"username": wanted})
        return wanted
    base = _base_username(name)
    for n in range(1, 100):
        candidate = base if n == 1 else f"{base}{n}"
        found = await repository.child_in_family(
            session, family.tenant_id, family.id, username=candidate
        )
        if found is None:
            return candidate
    raise ValidationFailed("Choose a username for this child.")


async def create_child(
    session: AsyncSession, *, tenant: Tenant, parent_id: uuid.UUID, data: ChildCreateIn
) -> tuple[ChildProfile, User, Family]:
    parent = await repository.get_user(session, parent_id)
    if parent is None:
        raise NotFound("Parent not found.")
    family = await family_for_parent(session, tenant.id, parent_id, create=True)
    assert family is not None
    username = await _free_username(session, family, data.username, data.display_name)
    child = User(
        id=uuid.uuid4(),
        display_name=data.display_name,
        birthdate=data.birthdate,
        locale=parent.locale,
        timezone=parent.timezone,
        status=UserStatus.active,
    )
    session.add(child)
    await session.flush()
    session.add(Membership(id=uuid.uuid4(), tenant_id=tenant.id, user_id=child.id, role=Role.child))
    profile = ChildProfile(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        family_id=family.id,
        user_id=child.id,
        parent_user_id=parent_id,
        username=username,
        pin_hash=await passwords.hash_async(data.pin),
        created_at=clock.utcnow(),
    )
    session.add(profile)
    await session.flush()
    await audit.record(
        session,
        action="auth.child_created",
        tenant_id=tenant.id,
        actor_user_id=parent_id,
        target_type="user",
        target_id=child.id,
        after={"family_id": str(family.id), "username": username},
    )
    return profile, child, family


async def list_children(
    session: AsyncSession, tenant_id: uuid.UUID, parent_id: uuid.UUID
) -> tuple[Family | None, Sequence[tuple[ChildProfile, User]]]:
    family = await family_for_parent(session, tenant_id, parent_id, create=False)
    if family is None:
        return None, []
    return family, await repository.family_children(session, tenant_id, family.id)


async def set_pin(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    parent_id: uuid.UUID,
    child_id: uuid.UUID,
    pin: str,
) -> None:
    """A parent sets a new PIN (which also lifts a lockout)."""
    family = await family_for_parent(session, tenant_id, parent_id, create=False)
    profile = (
        await repository.child_in_family(session, tenant_id, family.id, user_id=child_id)
        if family
        else None
    )
    child = await repository.get_user(session, child_id) if profile else None
    if profile is None or child is None:
        raise NotFound("Child not found in your family.")
    profile.pin_hash = await passwords.hash_async(pin)
    clear_failures(child)
    await audit.record(
        session,
        action="auth.child_pin_changed",
        tenant_id=tenant_id,
        actor_user_id=parent_id,
        target_type="user",
        target_id=child_id,
    )


async def _find_family(session: AsyncSession, tenant: Tenant, data: ChildLoginIn) -> Family | None:
    if data.family_code:
        return await repository.family_by_code(session, tenant.id, data.family_code)
    if data.parent_email:
        parent = await repository.get_user_by_email(session, data.parent_email)
        if parent is not None:
            return await repository.family_of_owner(session, tenant.id, parent.id)
    return None


async def pin_login(
    session: AsyncSession, tenant: Tenant, data: ChildLoginIn, client: ClientInfo
) -> SignedIn:
    if not (data.family_code or data.parent_email) or not (data.username or data.child_id):
        raise ValidationFailed("Give family_code or parent_email, and username or child_id.")
    await check_login_rate(client.ip)
    family = await _find_family(session, tenant, data)
    profile = (
        await repository.child_in_family(
            session, tenant.id, family.id, username=data.username, user_id=data.child_id
        )
        if family is not None
        else None
    )
    child = await repository.get_user(session, profile.user_id) if profile else None
    if profile is None or child is None:
        await passwords.verify_async(None, data.pin)
        raise InvalidCredentials()
    ensure_not_locked(child)
    if not await passwords.verify_async(profile.pin_hash, data.pin):
        await record_failed_login(child, tenant.id, "pin")
        raise InvalidCredentials()
    role = await role_in(session, child, tenant.id)
    if role is None:
        raise InvalidCredentials()
    clear_failures(child)
    return await finish_login(session, child, tenant.id, role, client, "pin")
