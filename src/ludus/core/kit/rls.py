"""Row-level security helpers for migrations: one policy shape for every tenant table."""

from __future__ import annotations

from alembic import op

# Sub-selects make PostgreSQL read the settings once per query (an InitPlan), not per row.
POLICY_EXPR = "(tenant_id = (SELECT ludus_current_tenant()) OR (SELECT ludus_rls_bypass()))"


def enable_tenant_rls(table: str) -> None:
    """Only rows of the transaction's tenant are visible or writable (unless bypass is on)."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} USING {POLICY_EXPR} WITH CHECK {POLICY_EXPR}"
    )


def disable_tenant_rls(table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
