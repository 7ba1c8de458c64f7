"""ledger: assets, accounts, balance shards, transactions, postings, holds, SQL functions

Revision ID: ledger_0001
Revises: core_0001
Create Date: 2026-11-23 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ludus.core.kit.rls import disable_tenant_rls, enable_tenant_rls
from ludus.core.kit.settings import get_settings

revision = "ledger_0001"
down_revision = "core_0001"
branch_labels = None
depends_on = None

TABLES = (
    "ledger_assets",
    "ledger_accounts",
    "ledger_balance_shards",
    "ledger_transactions",
    "ledger_postings",
    "ledger_holds",
)

# The result shape shared by ledger_transfer and its helpers.
RESULT = """TABLE (err text, detail jsonb, tx_id uuid, tx_kind text, tx_metadata jsonb,
    tx_reversal_of uuid, tx_hold_id uuid, tx_created_at timestamptz, replayed boolean)"""

# Time-ordered ids (UUID version 7 layout) keep the transactions' indexes append-mostly.
UUID7_FN = """
CREATE FUNCTION ledger_uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
        substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$
"""

FAIL_FN = f"""
CREATE FUNCTION ledger_fail(p_code text, p_detail jsonb) RETURNS {RESULT}
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_code, p_detail, NULL::uuid, NULL::text, NULL::jsonb, NULL::uuid, NULL::uuid,
           NULL::timestamptz, NULL::boolean
$$
"""

# An earlier transaction with the same key: the same content replays it, other content conflicts.
EXISTING_FN = f"""
CREATE FUNCTION ledger_existing(p_tenant uuid, p_key text, p_hash text) RETURNS {RESULT}
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.request_hash = p_hash THEN NULL ELSE 'IDEMPOTENCY_CONFLICT' END,
           CASE WHEN t.request_hash = p_hash THEN NULL
                ELSE jsonb_build_object('idempotency_key', p_key, 'transaction_id', t.id) END,
           CASE WHEN t.request_hash = p_hash THEN t.id END,
           t.kind::text, t.metadata, t.reversal_of, t.hold_id, t.created_at, true
    FROM ledger_transactions t
    WHERE t.tenant_id = p_tenant AND t.idempotency_key = p_key
$$
"""

# One round trip per transfer: replay check, lock + check, insert, apply. Nothing is written
# before every check passes, so a refused transfer leaves the caller's transaction usable.
# Accounts without shards are locked FOR UPDATE in id order; sharded (hot) accounts are not
# locked: each posting lands on a free shard (SKIP LOCKED), applied last, after the others.
TRANSFER_FN = f"""
CREATE FUNCTION ledger_transfer(
    p_tenant uuid, p_key text, p_kind text, p_metadata jsonb, p_hash text,
    p_accounts uuid[], p_amounts bigint[],
    p_reversal_of uuid DEFAULT NULL, p_hold uuid DEFAULT NULL,
    p_release_account uuid DEFAULT NULL, p_release bigint DEFAULT 0
) RETURNS {RESULT}
LANGUAGE plpgsql AS $$
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
            UPDATE ledger_balance_shards s
            SET balance = s.balance + v_amts[i], version = s.version + 1
            WHERE (s.account_id, s.shard) = (
                SELECT f.account_id, f.shard FROM ledger_balance_shards f
                WHERE f.account_id = v_ids[i]
                ORDER BY (f.shard + v_off) % v_shards[i]
                LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING s.balance, s.version, s.shard INTO v_bal, v_ver, v_s;
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

# Checked at commit (deferred). The trigger is per posting, but postings of one transaction
# are queued together, so remembering the last transaction checked keeps it to one query each.
BALANCED_FN = """
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_count bigint;
    v_bad boolean;
BEGIN
    IF current_setting('ledger.checked_tx', true) = NEW.transaction_id::text THEN
        RETURN NULL;
    END IF;
    SELECT sum(c), bool_or(s <> 0) INTO v_count, v_bad
    FROM (SELECT count(*) AS c, sum(amount) AS s FROM ledger_postings
          WHERE transaction_id = NEW.transaction_id GROUP BY asset) g;
    IF v_bad OR v_count < 2 THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced', NEW.transaction_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_postings_balanced';
    END IF;
    PERFORM set_config('ledger.checked_tx', NEW.transaction_id::text, true);
    RETURN NULL;
END
$$
"""


def _ts(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="RESTRICT",
    )


def upgrade() -> None:
    op.create_table(
        "ledger_assets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("scale", sa.SmallInteger(), nullable=False),
        _ts(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_assets")),
        _tenant_fk("ledger_assets"),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_ledger_assets_tenant_id_code")),
        sa.CheckConstraint("scale BETWEEN 0 AND 18", name=op.f("ck_ledger_assets_scale")),
        sa.CheckConstraint("code ~ '^[A-Z][A-Z0-9_]{1,15}$'", name=op.f("ck_ledger_assets_code")),
    )
    op.create_index(op.f("ix_ledger_assets_tenant_id"), "ledger_assets", ["tenant_id"])

    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("owner_type", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Uuid()),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shards", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("balance", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("pending_out", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        _ts(),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        _tenant_fk("ledger_accounts"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "asset"],
            ["ledger_assets.tenant_id", "ledger_assets.code"],
            name=op.f("fk_ledger_accounts_tenant_id_ledger_assets"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(
            "allow_negative OR (balance >= 0 AND balance >= pending_out)",
            name=op.f("ck_ledger_accounts_non_negative"),
        ),
        sa.CheckConstraint("pending_out >= 0", name=op.f("ck_ledger_accounts_pending_out")),
        sa.CheckConstraint(
            "shards = 0 OR (allow_negative AND shards BETWEEN 1 AND 64)",
            name=op.f("ck_ledger_accounts_shards"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'frozen', 'closed')", name=op.f("ck_ledger_accounts_status")
        ),
        sa.CheckConstraint(
            "owner_type IN ('user', 'tenant', 'system')",
            name=op.f("ck_ledger_accounts_owner_type"),
        ),
        sa.CheckConstraint(
            "purpose ~ '^[a-z][a-z0-9_]{0,31}$'", name=op.f("ck_ledger_accounts_purpose")
        ),
        postgresql_with={"fillfactor": 80},
    )
    op.create_index(op.f("ix_ledger_accounts_tenant_id"), "ledger_accounts", ["tenant_id"])
    op.execute(
        "CREATE UNIQUE INDEX uq_ledger_accounts_owner ON ledger_accounts "
        "(tenant_id, owner_type, owner_id, asset, purpose) NULLS NOT DISTINCT"
    )

    op.create_table(
        "ledger_balance_shards",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("account_id", "shard", name=op.f("pk_ledger_balance_shards")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_balance_shards_account_id_ledger_accounts"),
            ondelete="RESTRICT",
        ),
        postgresql_with={"fillfactor": 70},
    )

    # No foreign keys to tenants or accounts on the hot write path (transactions, postings):
    # each would take a KEY SHARE lock on a shared row (the tenant, a hot account) in every
    # transfer. ledger_transfer checks both; nothing is ever deleted; `verify` re-checks.
    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("metadata", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("reversal_of", sa.Uuid()),
        sa.Column("hold_id", sa.Uuid()),
        _ts(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.ForeignKeyConstraint(
            ["reversal_of"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_transactions_reversal_of_ledger_transactions"),
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "idempotency_key",
            name=op.f("uq_ledger_transactions_tenant_id_idempotency_key"),
        ),
    )
    op.create_index(
        "uq_ledger_transactions_reversal_of",
        "ledger_transactions",
        ["reversal_of"],
        unique=True,
        postgresql_where=sa.text("reversal_of IS NOT NULL"),
    )

    op.create_table(
        "ledger_postings",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _ts(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_postings_transaction_id_ledger_transactions"),
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_postings_amount")),
    )
    op.create_index(
        op.f("ix_ledger_postings_account_id_created_at"),
        "ledger_postings",
        ["account_id", "created_at", "id"],
    )
    op.create_index(
        op.f("ix_ledger_postings_transaction_id"), "ledger_postings", ["transaction_id"]
    )

    op.create_table(
        "ledger_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("from_account_id", sa.Uuid(), nullable=False),
        sa.Column("to_account_id", sa.Uuid(), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("posted_amount", sa.BigInteger()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("transaction_id", sa.Uuid()),
        sa.Column("reason", sa.Text()),
        sa.Column("metadata", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("request_hash", sa.String(64), nullable=False),
        _ts(),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
        _tenant_fk("ledger_holds"),
        sa.ForeignKeyConstraint(
            ["from_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_holds_from_account_id_ledger_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_holds_to_account_id_ledger_accounts"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_holds_transaction_id_ledger_transactions"),
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_ledger_holds_tenant_id_idempotency_key")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_holds_amount")),
        sa.CheckConstraint(
            "posted_amount IS NULL OR posted_amount BETWEEN 1 AND amount",
            name=op.f("ck_ledger_holds_posted_amount"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'voided', 'expired')",
            name=op.f("ck_ledger_holds_status"),
        ),
    )
    op.create_index(op.f("ix_ledger_holds_tenant_id"), "ledger_holds", ["tenant_id"])
    op.create_index(op.f("ix_ledger_holds_from_account_id"), "ledger_holds", ["from_account_id"])
    op.create_index(
        "ix_ledger_holds_due",
        "ledger_holds",
        ["expires_at"],
        postgresql_where=sa.text("status = 'pending' AND expires_at IS NOT NULL"),
    )

    for sql in (UUID7_FN, FAIL_FN, EXISTING_FN, TRANSFER_FN, BALANCED_FN):
        op.execute(sql)
    op.execute(
        "CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()"
    )

    for table in TABLES:
        enable_tenant_rls(table)
    # Nothing in the ledger is ever deleted; transactions and postings are never updated.
    role = get_settings().db_app_role
    op.execute(f"REVOKE DELETE ON {', '.join(TABLES)} FROM {role}")
    op.execute(f"REVOKE UPDATE ON ledger_transactions, ledger_postings, ledger_assets FROM {role}")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_postings_balanced ON ledger_postings")
    op.execute("DROP FUNCTION IF EXISTS ledger_check_balanced()")
    op.execute(
        "DROP FUNCTION IF EXISTS ledger_transfer(uuid, text, text, jsonb, text, uuid[], bigint[],"
        " uuid, uuid, uuid, bigint)"
    )
    op.execute("DROP FUNCTION IF EXISTS ledger_existing(uuid, text, text)")
    op.execute("DROP FUNCTION IF EXISTS ledger_fail(text, jsonb)")
    op.execute("DROP FUNCTION IF EXISTS ledger_uuid7()")
    for table in reversed(TABLES):
        disable_tenant_rls(table)
        op.drop_table(table)
