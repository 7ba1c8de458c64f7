"""moneylife: compress stored game states with LZ4

Every game request and every month-end batch rewrites `moneylife_games.state` (~10 KB of
JSON, stored compressed out of line). LZ4 compresses it at about half the CPU of the
default pglz. Servers built without LZ4 keep pglz (the setting is skipped). Existing values
keep their compression until rewritten.

Revision ID: moneylife_0002
Revises: paya_0002
Create Date: 2026-11-23 19:00:00
"""

from __future__ import annotations

from alembic import op

revision = "moneylife_0002"
down_revision = "paya_0002"
branch_labels = None
depends_on = None


def _compression(method: str) -> str:
    return f"""
DO $$
BEGIN
  ALTER TABLE moneylife_games ALTER COLUMN state SET COMPRESSION {method};
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  RAISE NOTICE 'compression % not available: moneylife_games.state keeps its setting',
    '{method}';
END $$
"""


def upgrade() -> None:
    op.execute(_compression("lz4"))


def downgrade() -> None:
    op.execute("ALTER TABLE moneylife_games ALTER COLUMN state SET COMPRESSION default")
