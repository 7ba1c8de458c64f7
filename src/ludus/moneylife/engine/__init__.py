"""MoneyLife simulation engine: pure, deterministic, no I/O.

Entry points: `create_game`, `advance_day`, `apply_action`, `run_month_end`,
`load_content`, `state_checksum`, `canonical_json` / `from_json`.
"""

from .actions import apply_action
from .content import Content, load_content
from .daycycle import advance_day, run_month_end
from .errors import ActionError
from .ledger import net_worth
from .newgame import create_game
from .serial import canonical_json, clone, from_dict, from_json, state_checksum, to_dict
from .state import GameState

__all__ = [
    "ActionError",
    "Content",
    "GameState",
    "advance_day",
    "apply_action",
    "canonical_json",
    "clone",
    "create_game",
    "from_dict",
    "from_json",
    "load_content",
    "net_worth",
    "run_month_end",
    "state_checksum",
    "to_dict",
]
