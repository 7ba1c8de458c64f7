"""Password and PIN hashing (argon2id) and the password strength rules."""

from __future__ import annotations

import string
from contextlib import suppress
from functools import lru_cache

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ludus.core.auth.errors import WeakPassword

MIN_LENGTH = 10
MAX_LENGTH = 128

# Lower-cased; the rules also refuse these with digits or punctuation appended.
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "passw0rd",
        "password1",
        "qwerty",
        "qwertyuiop",
        "letmein",
        "welcome",
        "iloveyou",
        "admin",
        "administrator",
        "monkey",
        "dragon",
        "football",
        "baseball",
        "sunshine",
        "princess",
        "trustno1",
        "abc123",
        "1q2w3e4r",
        "1qaz2wsx",
        "zaq12wsx",
        "changeme",
        "secret",
        "superman",
        "starwars",
        "whatever",
        "computer",
        "michael",
        "shadow",
        "master",
        "qazwsx",
        "asdfghjkl",
        "123456789a",
        "1234567890",
        "0123456789",
        "1234567890a",
        "q1w2e3r4t5",
        "moneylife",
        "ludus",
    }
)


@lru_cache
def hasher() -> PasswordHasher:
    # argon2id at OWASP's recommended floor (19 MiB, 2 passes, 1 lane): ~50 ms here. The
    # library default (64 MiB, 3 passes, 4 lanes) costs ~400 ms on a 2-core box, which would
    # cap sign-ins at a handful per second. Older hashes are upgraded on the next sign-in.
    return PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def hash_secret(secret: str) -> str:
    return hasher().hash(secret)


async def hash_async(secret: str) -> str:
    """Hash off the event loop (argon2 releases the GIL, so threads run in parallel)."""
    return await anyio.to_thread.run_sync(hasher().hash, secret)


def verify_secret(hashed: str | None, secret: str) -> bool:
    """True if `secret` matches; as slow without a hash, so unknown accounts take as long."""
    if not hashed:
        with suppress(VerificationError):
            hasher().verify(_dummy_hash(), secret)  # same work for unknown accounts
        return False
    try:
        return hasher().verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


async def verify_async(hashed: str | None, secret: str) -> bool:
    return await anyio.to_thread.run_sync(verify_secret, hashed, secret)


def needs_rehash(hashed: str) -> bool:
    try:
        return hasher().check_needs_rehash(hashed)
    except InvalidHashError:
        return False


@lru_cache
def _dummy_hash() -> str:
    return hasher().hash("ludus-dummy-password")


def _classes(password: str) -> int:
    groups = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(groups)


def weakness_reasons(password: str, *, email: str | None = None) -> list[str]:
    reasons: list[str] = []
    if len(password) < MIN_LENGTH:
        reasons.append("too_short")
    if len(password) > MAX_LENGTH:
        reasons.append("too_long")
    if _classes(password) < 2:
        reasons.append("single_character_class")
    lowered = password.lower()
    if email:
        address = email.lower()
        local = address.split("@", 1)[0]
        if lowered in {address, local} or (len(local) >= 4 and local in lowered):
            reasons.append("contains_email")
    stripped = lowered.rstrip(string.digits + string.punctuation)
    if lowered in COMMON_PASSWORDS or stripped in COMMON_PASSWORDS:
        reasons.append("too_common")
    return reasons


def check_strength(password: str, *, email: str | None = None) -> None:
    reasons = weakness_reasons(password, email=email)
    if reasons:
        raise WeakPassword(
            details={
                "reasons": reasons,
                "min_length": MIN_LENGTH,
                "hint": "Use at least 10 characters mixing letters, digits or symbols.",
            }
        )
