"""Import every module's models so metadata is complete (Alembic, tests)."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "ludus.core.tenancy.models",
    "ludus.core.auth.models",
    "ludus.core.idempotency.models",
    "ludus.core.audit.models",
    "ludus.core.ledger.models",
    "ludus.core.events.models",
    "ludus.core.webhooks.models",
    "ludus.core.notifications.models",
    "ludus.engagement.models",
    "ludus.engagement.leaderboards.models",
    "ludus.engagement.challenges.models",
    "ludus.engagement.catalog.models",
    "ludus.savings.models",
    "ludus.paya.models",
    "ludus.moneylife.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
