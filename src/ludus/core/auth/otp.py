"""One-time codes by SMS or email: 6 digits, short expiry, few attempts, resend cool-down.

Codes are stored as an HMAC keyed with the app secret and the challenge id, so a database
dump does not reveal them (six digits are trivial to brute-force from a plain hash).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth import repository
from ludus.core.auth.errors import OtpAttemptsExceeded, OtpCooldown, OtpExpired, OtpInvalid
from ludus.core.auth.models import OtpChallenge
from ludus.core.kit import clock
from ludus.core.kit.settings import get_settings
from ludus.core.notifications.models import Channel
from ludus.core.notifications.service import send_now


@dataclass(frozen=True)
class SentCode:
    challenge: OtpChallenge
    token: str | None  # opaque handle for the second-factor step


def _code_hash(challenge_id: uuid.UUID, code: str) -> str:
    secret = get_settings().resolved_secret_key().encode()
    return hmac.new(secret, f"otp:{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mask(destination: str) -> str:
    if "@" in destination:
        local, _, domain = destination.partition("@")
        return f"{local[:1]}•••@{domain}"
    return destination[:4] + "•" * max(0, len(destination) - 7) + destination[-3:]


async def send_code(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    purpose: str,
    destination: str,
    channel: Channel,
    brand: str,
    user_id: uuid.UUID | None = None,
    device_id: str | None = None,
    platform: str | None = None,
    with_token: bool = False,
) -> SentCode:
    settings = get_settings()
    # Serialise requests for one destination so the cool-down cannot be raced.
    await session.execute(
        select(
            func.pg_advisory_xact_lock(func.hashtext(f"otp:{tenant_id}:{purpose}:{destination}"))
        )
    )
    now = clock.utcnow()
    latest = await repository.latest_challenge(session, tenant_id, purpose, destination)
    if latest is not None and latest.consumed_at is None:  # a used code needs no cool-down
        wait = (
            latest.created_at + timedelta(seconds=settings.otp_resend_cooldown_seconds) - now
        ).total_seconds()
        if wait > 0:
            retry_after = math.ceil(wait)
            raise OtpCooldown(
                details={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)}
            )
    code = f"{secrets.randbelow(1_000_000):06d}"
    token = secrets.token_urlsafe(32) if with_token else None
    challenge = OtpChallenge(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        purpose=purpose,
        destination=destination,
        channel=channel.value,
        user_id=user_id,
        token_hash=token_hash(token) if token else None,
        device_id=device_id,
        platform=platform,
        attempts=0,
        max_attempts=settings.otp_max_attempts,
        expires_at=now + timedelta(seconds=settings.otp_ttl_seconds),
        created_at=now,
    )
    challenge.code_hash = _code_hash(challenge.id, code)
    session.add(challenge)
    minutes = max(1, settings.otp_ttl_seconds // 60)
    await send_now(
        session,
        tenant_id=tenant_id,
        channel=channel,
        recipient=destination,
        subject=f"Your {brand} code" if channel == Channel.email else None,
        body=f"{code} is your {brand} code. It expires in {minutes} minutes. Never share it.",
        kind="otp",
        user_id=user_id,
    )
    await session.flush()
    return SentCode(challenge, token)


async def check_code(session: AsyncSession, challenge: OtpChallenge, code: str) -> None:
    """Accept `code` once, or raise; every try spends an attempt even if the request fails."""
    now = clock.utcnow()
    if challenge.consumed_at is not None:
        raise OtpInvalid("This code was already used.", details={"attempts_left": 0})
    if challenge.expires_at <= now:
        raise OtpExpired()
    if challenge.attempts >= challenge.max_attempts:
        raise OtpAttemptsExceeded()
    # Spend the attempt in its own committed transaction before comparing, so parallel
    # guesses cannot get more tries than allowed.
    async with repository.independent_session(challenge.tenant_id) as side:
        used = await side.scalar(
            update(OtpChallenge)
            .where(
                OtpChallenge.id == challenge.id,
                OtpChallenge.attempts < OtpChallenge.max_attempts,
                OtpChallenge.consumed_at.is_(None),
            )
            .values(attempts=OtpChallenge.attempts + 1)
            .returning(OtpChallenge.attempts)
        )
    if used is None:
        raise OtpAttemptsExceeded()
    if not hmac.compare_digest(challenge.code_hash, _code_hash(challenge.id, code)):
        left = challenge.max_attempts - used
        if left <= 0:
            raise OtpAttemptsExceeded()
        raise OtpInvalid(details={"attempts_left": left})
    consumed = await session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.id == challenge.id, OtpChallenge.consumed_at.is_(None))
        .values(consumed_at=now)
        .returning(OtpChallenge.id)
    )
    if consumed.first() is None:
        raise OtpInvalid("This code was already used.", details={"attempts_left": 0})


async def verify_login_code(
    session: AsyncSession, tenant_id: uuid.UUID, phone: str, code: str
) -> OtpChallenge:
    challenge = await repository.latest_challenge(session, tenant_id, "login", phone)
    if challenge is None:
        raise OtpInvalid("No code was requested for this number.", details={"attempts_left": 0})
    await check_code(session, challenge, code)
    return challenge
