"""paya: drop paya_send_facts(), replaced by paya_send() (paya_0003) and no longer called

Revision ID: paya_0007
Revises: paya_0006
Create Date: 2026-12-08 02:35:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "paya_0007"
down_revision = "paya_0006"
branch_labels = None
depends_on = None

SIGNATURE = (
    "paya_send_facts(uuid, uuid, text, boolean, timestamptz, timestamptz, timestamptz, integer,"
    " timestamptz, integer, timestamptz, timestamptz, timestamptz)"
)


def upgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")


def downgrade() -> None:
    name = "2026_11_23_1830-paya_send_facts.py"
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    op.execute(module.SEND_FACTS)
