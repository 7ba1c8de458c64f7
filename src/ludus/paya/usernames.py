"""@username rules: 3–20 characters, letters, digits and single underscores, starting with a
letter; compared case-insensitively; names that could impersonate staff are reserved."""

from __future__ import annotations

import re

from ludus.core.kit.errors import error_code

InvalidUsername = error_code(
    422,
    "USERNAME_INVALID",
    "Usernames are 3-20 letters, digits or single underscores and start with a letter.",
)
ReservedUsername = error_code(422, "USERNAME_RESERVED", "This username is reserved.")

_FORMAT = re.compile(r"^[a-z](?:[a-z0-9]|_(?!_)){2,19}$")

RESERVED = frozenset(
    {
        "admin", "administrator", "api", "billing", "compliance", "everyone", "feed", "help",
        "here", "info", "me", "mod", "moderator", "null", "official", "ops", "paya", "payments",
        "reserve", "rewards", "root", "security", "settings", "staff", "support", "system",
        "team", "treasury", "undefined", "user", "wallet",
    }
)  # fmt: skip


def normalize(raw: str) -> str:
    """Strip a leading '@' and surrounding space and lower-case, without validating."""
    value = raw.strip()
    if value.startswith("@"):
        value = value[1:]
    return value.lower()


def validate(raw: str) -> str:
    """The canonical (lower-case) username, or USERNAME_INVALID / USERNAME_RESERVED."""
    name = normalize(raw)
    if not _FORMAT.match(name) or name.endswith("_"):
        raise InvalidUsername(details={"username": raw})
    if name in RESERVED or name.startswith(("paya_", "admin_", "support_")):
        raise ReservedUsername(details={"username": raw})
    return name


def display_form(raw: str) -> str:
    """The username as the user typed it (case kept), without the '@'."""
    value = raw.strip()
    return value[1:] if value.startswith("@") else value


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching names that start with `prefix` (wildcards escaped)."""
    escaped = normalize(prefix).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
