"""Wall clock behind one function so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime

_offset_seconds: float = 0.0


def utcnow() -> datetime:
    now = datetime.now(UTC)
    if _offset_seconds:
        from datetime import timedelta

        now += timedelta(seconds=_offset_seconds)
    return now


def advance(seconds: float) -> None:
    """Test helper: move the clock forward."""
    global _offset_seconds
    _offset_seconds += seconds


def reset() -> None:
    global _offset_seconds
    _offset_seconds = 0.0
