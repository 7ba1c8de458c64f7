"""engagement: contributions indexed by (challenge, user)

A participant's score is recomputed from all their contributions to the challenge (the
savings drain for every participant a batch touches, `progress.compute` for one). Without
this index that read had to go through the deposits' member index and the contributions'
(challenge, event) key, or scan the challenge's contributions.

Revision ID: engage_0002
Revises: paya_0003
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

from alembic import op

revision = "engage_0002"
down_revision = "paya_0003"
branch_labels = None
depends_on = None

INDEX = "ix_engagement_challenge_contributions_challenge_id_user_id"


def upgrade() -> None:
    op.create_index(
        INDEX, "engagement_challenge_contributions", ["challenge_id", "user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="engagement_challenge_contributions")
