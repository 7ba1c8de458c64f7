"""Optional second factor: a one-time code after the password, skipped on trusted devices."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.auth import otp, passwords, repository
from ludus.core.auth.errors import MfaTokenInvalid, WrongPassword
from ludus.core.auth.models import OtpChallenge, TrustedDevice, User
from ludus.core.kit import clock
from ludus.core.kit.db import set_system_scope, set_tenant
from ludus.core.kit.errors import TenantRequired
from ludus.core.kit.settings import get_settings
from ludus.core.notifications.models import Channel
from ludus.core.tenancy.models import Tenant


@dataclass(frozen=True)
class MfaChallenge:
    mfa_token: str
    channel: str
    destination: str
    expires_in: int


def device_hash(user_id: uuid.UUID, device_id: str) -> str:
    return hashlib.sha256(f"{user_id}:{device_id}".encode()).hexdigest()


async def device_trusted(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, device_id: str
) -> bool:
    row = await repository.trusted_device(
        session, tenant_id, user_id, device_hash(user_id, device_id)
    )
    now = clock.utcnow()
    if row is None or row.expires_at <= now:
        return False
    row.last_used_at = now
    return True


async def trust_device(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, device_id: str
) -> None:
    now = clock.utcnow()
    expires = now + timedelta(days=get_settings().trusted_device_days)
    stmt = insert(TrustedDevice).values(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        device_hash=device_hash(user_id, device_id),
        expires_at=expires,
        last_used_at=now,
        created_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "user_id", "device_hash"],
        set_={"expires_at": expires, "last_used_at": now},
    )
    await session.execute(stmt)


async def start(
    session: AsyncSession,
    *,
    user: User,
    tenant: Tenant | None,
    device_id: str | None,
    platform: str | None,
) -> MfaChallenge:
    """Send a code to the user's phone (else email) and return the handle to verify it."""
    if tenant is None:
        raise TenantRequired("Accounts with a second factor sign in through a tenant.")
    channel, destination = (
        (Channel.sms, user.phone) if user.phone else (Channel.email, user.email or "")
    )
    sent = await otp.send_code(
        session,
        tenant_id=tenant.id,
        purpose="mfa",
        destination=destination,
        channel=channel,
        brand=str(tenant.theme.get("brand_name") or tenant.name),
        user_id=user.id,
        device_id=device_id,
        platform=platform,
        with_token=True,
    )
    return MfaChallenge(
        mfa_token=sent.token or "",
        channel=channel.value,
        destination=otp.mask(destination),
        expires_in=get_settings().otp_ttl_seconds,
    )


async def verify(
    session: AsyncSession, *, mfa_token: str, code: str, trust: bool
) -> tuple[OtpChallenge, User]:
    """Check the second factor; the caller then starts the session."""
    await set_system_scope(session)  # the tenant is known once the challenge is found
    challenge = await repository.challenge_by_token(session, otp.token_hash(mfa_token))
    if challenge is None or challenge.purpose != "mfa" or challenge.user_id is None:
        raise MfaTokenInvalid()
    await set_tenant(session, challenge.tenant_id)
    if challenge.consumed_at is not None:
        raise MfaTokenInvalid()
    await otp.check_code(session, challenge, code)
    user = await repository.get_user(session, challenge.user_id)
    if user is None:
        raise MfaTokenInvalid()
    if trust and challenge.device_id:
        await trust_device(session, challenge.tenant_id, user.id, challenge.device_id)
        await audit.record(
            session,
            action="auth.device_trusted",
            tenant_id=challenge.tenant_id,
            actor_user_id=user.id,
            target_type="user",
            target_id=user.id,
        )
    return challenge, user


async def set_enabled(
    session: AsyncSession,
    *,
    user: User,
    tenant_id: uuid.UUID | None,
    password: str,
    enabled: bool,
) -> None:
    if not await passwords.verify_async(user.password_hash, password):
        raise WrongPassword()
    if user.mfa_enabled == enabled:
        return
    user.mfa_enabled = enabled
    await audit.record(
        session,
        action="auth.mfa_enabled" if enabled else "auth.mfa_disabled",
        tenant_id=tenant_id,
        actor_user_id=user.id,
        target_type="user",
        target_id=user.id,
    )
