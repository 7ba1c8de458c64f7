"""paya: drop paya_send_facts(), replaced by paya_send() (paya_0003) and no longer called

Revision ID: paya_0007
Revises: paya_0006
Create Date: 2026-12-08 02:35:00
"""

from __future__ import annotations

from alembic import op

from ludus.migrations import revisions

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
    op.execute(revisions.load("2026_11_23_1830-paya_send_facts.py").SEND_FACTS)
