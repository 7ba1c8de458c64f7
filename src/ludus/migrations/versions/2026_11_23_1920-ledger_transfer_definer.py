"""ledger: ledger_transfer runs as its owner, with the tenant rule checked inside; hot
account shards picked by index lookups

Row-level security added a policy check to each of the function's statements, about a
tenth of the server CPU of a transfer. The function already scopes every statement to
`p_tenant`; as SECURITY DEFINER it skips RLS and refuses a `p_tenant` other than the
transaction's tenant (unless the bypass scope is on) with ACCOUNT_NOT_FOUND, what RLS
made it answer before; only the app role (and the owner) may execute it. A hot account's shard is now found by probing shards one by one
from a random start (one index lookup each, usually one) instead of reading and sorting
all of them on every transfer.

Revision ID: ledger_0002
Revises: auth_0003
Create Date: 2026-11-23 19:20:00
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

from ludus.core.kit.settings import get_settings

revision = "ledger_0002"
down_revision = "auth_0003"
branch_labels = None
depends_on = None

# The result shape shared by ledger_transfer and its helpers (unchanged).
RESULT = """TABLE (err text, detail jsonb, tx_id uuid, tx_kind text, tx_metadata jsonb,
    tx_reversal_of uuid, tx_hold_id uuid, tx_created_at timestamptz, replayed boolean)"""

TRANSFER_FN = f"""
CREATE OR REPLACE FUNCTION ledger_transfer(
    p_tenant uuid, p_key text, p_kind text, p_metadata jsonb, p_hash text,
    p_accounts uuid[], p_amounts bigint[],
    p_reversal_of uuid DEFAULT NULL, p_hold uuid DEFAULT NULL,
    p_release_account uuid DEFAULT NULL, p_release bigint DEFAULT 0
) RETURNS {RESULT}
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
#variable_conflict use_column
DECLARE
    n int := coalesce(array_length(p_accounts, 1), 0);
    t ledger_transactions%ROWTYPE;
    r record;
    v_ids uuid[] := '{{}}';
    v_assets text[] := '{{}}';
    v_amts bigint[] := '{{}}';
    v_shards smallint[] := '{{}}';
    v_after bigint[] := '{{}}';
    v_slot smallint[] := '{{}}';
    v_seq bigint[] := '{{}}';
    v_closed uuid;
    v_frozen uuid;
    v_short uuid;
    v_rel bigint;
    v_bal bigint;
    v_ver bigint;
    v_s smallint;
    v_off int := floor(random() * 1024)::int;
BEGIN
    -- Runs as its owner, so row-level security is not applied inside: apply the tenant
    -- rule here (another tenant's accounts do not exist for this caller).
    IF NOT ludus_rls_bypass() AND p_tenant IS DISTINCT FROM ludus_current_tenant() THEN
        RETURN QUERY SELECT * FROM ledger_fail('ACCOUNT_NOT_FOUND',
            jsonb_build_object('account_ids', to_jsonb(p_accounts)));
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM ledger_transactions
               WHERE tenant_id = p_tenant AND idempotency_key = p_key) THEN
        RETURN QUERY SELECT * FROM ledger_existing(p_tenant, p_key, p_hash);
        RETURN;
    END IF;
    -- Lock the ordinary accounts in id order; hot (sharded) ones are only read.
    PERFORM 1 FROM ledger_accounts
    WHERE id = ANY(p_accounts) AND tenant_id = p_tenant AND shards = 0
    ORDER BY id FOR UPDATE;
    FOR r IN
        SELECT a.id, a.asset, a.status, a.allow_negative, a.balance, a.pending_out, a.shards,
               e.amount
        FROM unnest(p_accounts, p_amounts) AS e(account_id, amount)
        JOIN ledger_accounts a ON a.id = e.account_id AND a.tenant_id = p_tenant
        ORDER BY a.shards > 0, a.id
    LOOP
        v_ids := v_ids || r.id;
        v_assets := v_assets || r.asset::text;
        v_amts := v_amts || r.amount;
        v_shards := v_shards || r.shards;
        IF r.status = 'closed' THEN
            v_closed := coalesce(v_closed, r.id);
        ELSIF r.status = 'frozen' THEN
            v_frozen := coalesce(v_frozen, r.id);
        END IF;
        v_rel := CASE WHEN r.id = p_release_account THEN p_release ELSE 0 END;
        IF r.amount < 0 AND NOT r.allow_negative
           AND r.balance + r.amount < r.pending_out - v_rel THEN
            v_short := coalesce(v_short, r.id);
        END IF;
    END LOOP;
    IF coalesce(array_length(v_ids, 1), 0) < n THEN
        RETURN QUERY SELECT * FROM ledger_fail('ACCOUNT_NOT_FOUND', jsonb_build_object(
            'account_ids', (SELECT jsonb_agg(x) FROM unnest(p_accounts) x WHERE x <> ALL(v_ids))));
        RETURN;
    END IF;
    IF v_closed IS NOT NULL THEN
        RETURN QUERY SELECT * FROM ledger_fail('ACCOUNT_CLOSED',
            jsonb_build_object('account_id', v_closed));
        RETURN;
    END IF;
    IF v_frozen IS NOT NULL THEN
        RETURN QUERY SELECT * FROM ledger_fail('ACCOUNT_FROZEN',
            jsonb_build_object('account_id', v_frozen));
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(v_assets, v_amts) u(asset, amount)
               GROUP BY asset HAVING sum(amount) <> 0) THEN
        IF (SELECT count(DISTINCT x) FROM unnest(v_assets) x) > 1
           AND (SELECT sum(x) FROM unnest(v_amts) x) = 0 THEN
            RETURN QUERY SELECT * FROM ledger_fail('ASSET_MISMATCH',
                jsonb_build_object('assets', to_jsonb(v_assets)));
        ELSE
            RETURN QUERY SELECT * FROM ledger_fail('UNBALANCED', '{{}}'::jsonb);
        END IF;
        RETURN;
    END IF;
    IF v_short IS NOT NULL THEN
        RETURN QUERY SELECT * FROM ledger_fail('INSUFFICIENT_FUNDS',
            jsonb_build_object('account_id', v_short));
        RETURN;
    END IF;

    INSERT INTO ledger_transactions AS x
        (id, tenant_id, idempotency_key, kind, metadata, request_hash, reversal_of, hold_id)
    VALUES (ledger_uuid7(), p_tenant, p_key, p_kind, coalesce(p_metadata, '{{}}'::jsonb),
            p_hash, p_reversal_of, p_hold)
    ON CONFLICT DO NOTHING
    RETURNING x.* INTO t;
    IF t.id IS NULL THEN
        -- A concurrent call committed the same key (or reversed the same transaction) first.
        IF EXISTS (SELECT 1 FROM ledger_transactions
                   WHERE tenant_id = p_tenant AND idempotency_key = p_key) THEN
            RETURN QUERY SELECT * FROM ledger_existing(p_tenant, p_key, p_hash);
        ELSE
            RETURN QUERY SELECT * FROM ledger_fail('ALREADY_REVERSED',
                jsonb_build_object('transaction_id', p_reversal_of));
        END IF;
        RETURN;
    END IF;

    FOR i IN 1..n LOOP
        v_rel := CASE WHEN v_ids[i] = p_release_account THEN p_release ELSE 0 END;
        IF v_shards[i] = 0 THEN
            UPDATE ledger_accounts
            SET balance = balance + v_amts[i], pending_out = pending_out - v_rel,
                version = version + 1, updated_at = now()
            WHERE id = v_ids[i]
            RETURNING balance, version INTO v_bal, v_ver;
            v_s := -1;
        ELSE
            IF v_rel <> 0 THEN
                UPDATE ledger_accounts SET pending_out = pending_out - v_rel WHERE id = v_ids[i];
            END IF;
            -- Probe the shards one by one from a random one on (an index lookup each)
            -- and take the first free one.
            FOR k IN 0..v_shards[i] - 1 LOOP
                UPDATE ledger_balance_shards s
                SET balance = s.balance + v_amts[i], version = s.version + 1
                WHERE (s.account_id, s.shard) = (
                    SELECT f.account_id, f.shard FROM ledger_balance_shards f
                    WHERE f.account_id = v_ids[i] AND f.shard = (v_off + k) % v_shards[i]
                    FOR UPDATE SKIP LOCKED)
                RETURNING s.balance, s.version, s.shard INTO v_bal, v_ver, v_s;
                EXIT WHEN v_s IS NOT NULL;
            END LOOP;
            IF v_s IS NULL THEN
                -- Every shard is busy: wait for one.
                UPDATE ledger_balance_shards s
                SET balance = s.balance + v_amts[i], version = s.version + 1
                WHERE s.account_id = v_ids[i] AND s.shard = v_off % v_shards[i]
                RETURNING s.balance, s.version, s.shard INTO v_bal, v_ver, v_s;
            END IF;
        END IF;
        v_after := v_after || v_bal;
        v_seq := v_seq || v_ver;
        v_slot := v_slot || v_s;
        v_s := NULL;
    END LOOP;

    INSERT INTO ledger_postings
        (tenant_id, transaction_id, account_id, asset, amount, balance_after, shard, seq)
    SELECT p_tenant, t.id, u.account_id, u.asset, u.amount, u.balance_after, u.shard, u.seq
    FROM unnest(v_ids, v_assets, v_amts, v_after, v_slot, v_seq)
        AS u(account_id, asset, amount, balance_after, shard, seq);

    RETURN QUERY SELECT NULL::text, NULL::jsonb, t.id, t.kind::text, t.metadata, t.reversal_of,
        t.hold_id, t.created_at, false;
END
$$
"""


def _previous_transfer_fn() -> str:
    """The definition from ledger_0001, for the downgrade."""
    path = Path(__file__).with_name("2026_11_23_1530-ledger.py")
    spec = importlib.util.spec_from_file_location("ledger_0001_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sql: str = module.TRANSFER_FN
    return sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


SIGNATURE = (
    "ledger_transfer(uuid, text, text, jsonb, text, uuid[], bigint[], uuid, uuid, uuid, bigint)"
)


def upgrade() -> None:
    op.execute(TRANSFER_FN)
    # Running as its owner, it must not be callable by every role of the database.
    op.execute(f"REVOKE EXECUTE ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {get_settings().db_app_role}")


def downgrade() -> None:
    # Back to an invoker's function without settings, then the previous body.
    op.execute(f"ALTER FUNCTION {SIGNATURE} SECURITY INVOKER RESET ALL")
    op.execute(_previous_transfer_fn())
    op.execute(f"REVOKE EXECUTE ON FUNCTION {SIGNATURE} FROM {get_settings().db_app_role}")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO PUBLIC")
