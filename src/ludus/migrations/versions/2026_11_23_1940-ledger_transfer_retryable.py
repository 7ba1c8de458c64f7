"""ledger: ledger_transfer_retryable, the transfer inside a server-side savepoint

A deadlock or serialization failure inside `ledger_transfer` used to abort the caller's
whole transaction, so callers wrapped every call in a client SAVEPOINT / RELEASE (two more
round trips per transfer). This wrapper runs the call in a PL/pgSQL exception block (a
subtransaction on the server): those two errors undo only the call and come back as the
result `err = 'RETRY'`, and the client retries the call.

Revision ID: ledger_0003
Revises: ledger_0002
Create Date: 2026-11-23 19:40:00
"""

from __future__ import annotations

from alembic import op

from ludus.core.kit.settings import get_settings

revision = "ledger_0003"
down_revision = "ledger_0002"
branch_labels = None
depends_on = None

RESULT = """TABLE (err text, detail jsonb, tx_id uuid, tx_kind text, tx_metadata jsonb,
    tx_reversal_of uuid, tx_hold_id uuid, tx_created_at timestamptz, replayed boolean)"""

SIGNATURE = (
    "ledger_transfer_retryable(uuid, text, text, jsonb, text, uuid[], bigint[], uuid, uuid,"
    " uuid, bigint)"
)

WRAPPER_FN = f"""
CREATE FUNCTION ledger_transfer_retryable(
    p_tenant uuid, p_key text, p_kind text, p_metadata jsonb, p_hash text,
    p_accounts uuid[], p_amounts bigint[],
    p_reversal_of uuid DEFAULT NULL, p_hold uuid DEFAULT NULL,
    p_release_account uuid DEFAULT NULL, p_release bigint DEFAULT 0
) RETURNS {RESULT}
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        RETURN QUERY SELECT * FROM ledger_transfer(
            p_tenant, p_key, p_kind, p_metadata, p_hash, p_accounts, p_amounts,
            p_reversal_of, p_hold, p_release_account, p_release);
    EXCEPTION WHEN deadlock_detected OR serialization_failure THEN
        RETURN QUERY SELECT 'RETRY'::text, jsonb_build_object('sqlstate', SQLSTATE),
            NULL::uuid, NULL::text, NULL::jsonb, NULL::uuid, NULL::uuid,
            NULL::timestamptz, false;
    END;
END $$
"""


def upgrade() -> None:
    op.execute(WRAPPER_FN)
    op.execute(f"REVOKE EXECUTE ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {get_settings().db_app_role}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
