"""merge the module branches into one head

The modules were built in parallel, each branching from core_0001; from here on there is a
single line of migrations.

Revision ID: merge_0001
Revises: ledger_0001, events_0001, auth_0001, notif_0002, engage_0001, paya_0001,
    savings_0001, moneylife_0001
Create Date: 2026-11-23 17:00:00
"""

from __future__ import annotations

revision = "merge_0001"
down_revision = (
    "ledger_0001",
    "events_0001",
    "auth_0001",
    "notif_0002",
    "engage_0001",
    "paya_0001",
    "savings_0001",
    "moneylife_0001",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: this revision only joins the branches."""


def downgrade() -> None:
    """Nothing to change: downgrading splits the branches again."""
