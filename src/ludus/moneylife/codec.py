"""Fast storage codec for engine state.

The engine's `canonical_json` walks dataclasses generically and `from_json` validates with
Pydantic: ~3.5 ms per state, which dominates month-end for 100k stored games. State rows are
written only by this service, so reading them back skips validation and both directions use
straight-line functions generated from the state dataclasses. `dumps` produces exactly the
bytes of `engine.canonical_json` (tests check this), so `checksum` equals `state_checksum`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from functools import lru_cache
from typing import Any, get_args, get_origin, get_type_hints

import orjson

from ludus.moneylife.engine import state as st_mod
from ludus.moneylife.engine.state import GameState

_CLASSES = (
    st_mod.Holding,
    st_mod.Instalment,
    st_mod.Account,
    st_mod.Order,
    st_mod.Policy,
    st_mod.Incident,
    st_mod.Claim,
    st_mod.Goal,
    st_mod.Bill,
    st_mod.PendingCard,
    st_mod.Chain,
    st_mod.Penalty,
    st_mod.ScheduledEvent,
    st_mod.MonthStats,
    st_mod.LevelProgress,
    GameState,
)


def _nested(hint: Any) -> tuple[str, type | None]:
    """('one'|'list'|'plain', dataclass) for a field type."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return "one", hint
    args = get_args(hint)
    if (
        get_origin(hint) is list
        and args
        and isinstance(args[0], type)
        and dataclasses.is_dataclass(args[0])
    ):
        return "list", args[0]
    return "plain", None


def _source(cls: type) -> str:
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    enc = [f"def enc_{cls.__name__}(o):", "    return {"]
    dec = [f"def dec_{cls.__name__}(d):", f"    n = _new({cls.__name__})"]
    for name in names:
        kind, sub = _nested(hints[name])
        if kind == "one" and sub is not None:
            enc.append(f"        {name!r}: enc_{sub.__name__}(o.{name}),")
            dec.append(f"    n.{name} = dec_{sub.__name__}(d[{name!r}])")
        elif kind == "list" and sub is not None:
            enc.append(f"        {name!r}: [enc_{sub.__name__}(x) for x in o.{name}],")
            dec.append(f"    n.{name} = [dec_{sub.__name__}(x) for x in d[{name!r}]]")
        else:
            enc.append(f"        {name!r}: o.{name},")
            dec.append(f"    n.{name} = d[{name!r}]")
    enc.append("    }")
    dec.append("    return n")
    return "\n".join(enc + dec)


@lru_cache(maxsize=1)
def _functions() -> dict[str, Any]:
    namespace: dict[str, Any] = {"_new": object.__new__}
    for cls in _CLASSES:
        namespace[cls.__name__] = cls
    for cls in _CLASSES:
        exec(_source(cls), namespace)  # noqa: S102 - generated from our own dataclasses
    return namespace


def to_plain(state: GameState) -> dict[str, Any]:
    result: dict[str, Any] = _functions()["enc_GameState"](state)
    return result


def dumps(state: GameState) -> bytes:
    """Canonical JSON (sorted keys, compact, UTF-8), identical to `canonical_json`."""
    return orjson.dumps(to_plain(state), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def loads(data: str | bytes) -> GameState:
    """Rebuild a state written by `dumps` (trusted input: no validation)."""
    state: GameState = _functions()["dec_GameState"](orjson.loads(data))
    return state


def checksum_of(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()
