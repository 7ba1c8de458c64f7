"""Phone numbers: members are keyed by E.164; Kenyan local forms are the default."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "KE"


@lru_cache(maxsize=16384)
def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """E.164 form of `raw`, or None when it is not a valid number. Cached (a pure function,
    and parsing costs ~0.3 ms): a drained batch reads every account reference as a phone
    number too, and the same members pay again and again."""
    text = (raw or "").strip()
    if not text:
        return None
    if text.isdigit() and text.startswith("254"):
        text = "+" + text  # M-Pesa writes Kenyan numbers as 2547XXXXXXXX
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
