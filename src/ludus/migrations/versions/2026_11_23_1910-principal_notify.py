"""auth: notify API processes when a session is revoked or a tenant's status changes

Each API process keeps recently confirmed "session live, tenant active" answers while it
listens on `ludus_principal`; these statement-level triggers tell every process (whoever made
the change: API, CLI, job) to forget them when the transaction commits.

Revision ID: auth_0003
Revises: moneylife_0002
Create Date: 2026-11-23 19:10:00
"""

from __future__ import annotations

from alembic import op

revision = "auth_0003"
down_revision = "moneylife_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE FUNCTION ludus_notify_principal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ludus_principal', TG_TABLE_NAME);
  RETURN NULL;
END $$
"""
    )
    op.execute(
        "CREATE TRIGGER auth_sessions_notify_principal AFTER UPDATE OF revoked_at OR DELETE"
        " ON auth_sessions FOR EACH STATEMENT EXECUTE FUNCTION ludus_notify_principal()"
    )
    op.execute(
        "CREATE TRIGGER tenants_notify_principal AFTER UPDATE OF status OR DELETE"
        " ON tenants FOR EACH STATEMENT EXECUTE FUNCTION ludus_notify_principal()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER tenants_notify_principal ON tenants")
    op.execute("DROP TRIGGER auth_sessions_notify_principal ON auth_sessions")
    op.execute("DROP FUNCTION ludus_notify_principal()")
