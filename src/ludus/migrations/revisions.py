"""Reading an earlier revision's module, for a migration whose downgrade restores what that
revision defined (a function body, a signature) instead of keeping a second copy."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

VERSIONS = Path(__file__).with_name("versions")


def load(filename: str) -> Any:
    """The module of `versions/<filename>`, executed afresh (Alembic does not import them)."""
    spec = importlib.util.spec_from_file_location(filename, VERSIONS / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
