"""Password and PIN hashing (argon2id) and the password strength rules."""

from __future__ import annotations

import string
from functools import lru_cache

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
    return PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_secret(secret: str) -> str:
    return hasher().hash(secret)


def verify_secret(hashed: str | None, secret: str) -> bool:
    """Constant work whether or not there is a hash, so unknown accounts take as long."""
    if not hashed:
        hasher().verify(_dummy_hash(), "not-the-password")  # burn the same time
        return False
    try:
        return hasher().verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


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
