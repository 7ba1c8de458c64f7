"""paya: counters for the send limits (sender_seq/sender_cum, profile counters, paya_pairs)

The limits read the sender's last-24 h sends on every send (up to the largest count limit,
so with high limits the read grew with the sender's day). Now they are exact rolling
windows read in O(log n):

* each payment carries the sender's running number (`sender_seq`) and running total
  (`sender_cum`, including this payment); the profile carries `sent_count`, `sent_amount`,
  `last_sent_at` and `last_public_at`, updated under the profile lock the send holds anyway.
  Sends since T = sent_count - (number of the first send at or after T) + 1, and tokens
  since T = sent_amount - (running total before that send): one index probe each.
  A sender's payment times never go backwards (`greatest(now, last_sent_at)`), so "the
  first at or after T" by time is also the first by number.
* `paya_pairs` (tenant, sender, recipient, last_at): distinct recipients in the last 24 h
  and "already paid this recipient today" without reading payments.
* the private-only rule's 7-day count comes from the same numbering, and "any public
  payment in the window" from `last_public_at`.

Existing rows are backfilled (numbered by time).

Revision ID: paya_0004
Revises: engage_0002
Create Date: 2026-12-08 02:05:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from ludus.core.kit.rls import enable_tenant_rls
from ludus.migrations import revisions

revision = "paya_0004"
down_revision = "engage_0002"
branch_labels = None
depends_on = None


def _paya_0003() -> Any:
    return revisions.load("2026_12_08_0140-paya_send.py")


SEND = """
CREATE FUNCTION paya_send(
  p_tenant uuid, p_sender uuid, p_key text, p_amount bigint, p_memo text, p_public boolean,
  p_hot boolean, p_payment uuid, p_kind text, p_ledger_key text, p_idem_key text,
  p_metadata jsonb, p_now timestamptz, p_now_text text, p_channel text, p_feed_amount boolean,
  p_new_after timestamptz, p_day_ago timestamptz, p_hour_ago timestamptz,
  p_max_transfer bigint, p_per_hour bigint, p_per_day bigint, p_unique_per_day bigint,
  p_cooling_limit bigint, p_mule_rows integer, p_mule_since timestamptz,
  p_circular_since timestamptz, p_load_since timestamptz, p_private_window_days integer)
RETURNS TABLE (
  outcome text, detail jsonb, tx_id uuid, created_at timestamptz,
  s_user_id uuid, s_username text, s_wallet uuid, s_created_at timestamptz,
  r_user_id uuid, r_username text, r_created_at timestamptz,
  sender_rules text[], recipient_rules text[],
  velocity json, mule json, circular json, loads json, private json)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_sid uuid; v_sname text; v_swallet uuid; v_sstatus text; v_screated timestamptz;
  v_rid uuid; v_rname text; v_rwallet uuid; v_rstatus text; v_rcreated timestamptz;
  v_to uuid; v_hash text; v_item jsonb; v_now timestamptz;
  v_count bigint; v_amount bigint; v_last_sent timestamptz; v_last_public timestamptz;
  v_seq bigint; v_cum bigint; v_first_amount bigint;
  v_h bigint; v_d bigint; v_rd bigint; v_paid boolean; v_total bigint;
  v_sr text[]; v_rr text[];
  v_velocity json; v_mule json; v_circular json; v_loads json; v_private json;
  l record;
BEGIN
  -- 1. the sender's profile, locked until the transaction ends (serializes its sends)
  SELECT user_id, username, wallet_account_id, status, created_at, sent_count, sent_amount,
         last_sent_at, last_public_at
    INTO v_sid, v_sname, v_swallet, v_sstatus, v_screated, v_count, v_amount,
         v_last_sent, v_last_public
  FROM paya_profiles WHERE tenant_id = p_tenant AND user_id = p_sender FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'NO_PROFILE', NULL::jsonb, NULL::uuid, NULL::timestamptz,
      NULL::uuid, NULL::text,
      NULL::uuid, NULL::timestamptz, NULL::uuid, NULL::text, NULL::timestamptz,
      NULL::text[], NULL::text[], NULL::json, NULL::json, NULL::json, NULL::json, NULL::json;
    RETURN;
  END IF;
  SELECT user_id, username, wallet_account_id, status, created_at
    INTO v_rid, v_rname, v_rwallet, v_rstatus, v_rcreated
  FROM paya_profiles WHERE tenant_id = p_tenant AND username_key = p_key;
  outcome := CASE
    WHEN v_sstatus = 'frozen' THEN 'FROZEN'
    WHEN v_rid IS NULL THEN 'NO_RECIPIENT'
    WHEN v_rid = v_sid THEN 'SELF'
    WHEN v_rstatus = 'frozen' THEN 'FROZEN'
    WHEN p_amount > p_max_transfer THEN 'LIMIT' END;
  IF outcome IS NOT NULL THEN
    detail := CASE outcome
      WHEN 'FROZEN' THEN jsonb_build_object(
        'side', CASE WHEN v_sstatus = 'frozen' THEN 'sender' ELSE 'recipient' END,
        'username', CASE WHEN v_sstatus = 'frozen' THEN v_sname ELSE v_rname END)
      WHEN 'LIMIT' THEN jsonb_build_object('limit', 'max_transfer', 'value', p_max_transfer)
      END;
    RETURN QUERY SELECT outcome, detail, NULL::uuid, NULL::timestamptz,
      v_sid, v_sname, v_swallet, v_screated,
      v_rid, v_rname, v_rcreated, NULL::text[], NULL::text[],
      NULL::json, NULL::json, NULL::json, NULL::json, NULL::json;
    RETURN;
  END IF;
  -- 2. a new snapshot: every earlier send of this sender has committed, and the counters
  -- read with the lock are current. Count limits are exact rolling windows from the
  -- counters: the sender's payments carry their number (sender_seq) and running total
  -- (sender_cum), so the sends since T are sent_count - (number of the first send at or
  -- after T) + 1, found with one probe of the (tenant, sender, created_at) index (a
  -- sender's created_at never goes backwards, see v_now). Distinct recipients come from
  -- paya_pairs (one row per sender and recipient, with the latest payment's time). Each
  -- fraud rule reads its rows only while its flag is not already open.
  v_now := greatest(p_now, v_last_sent);
  SELECT sender_seq, sender_cum, amount INTO v_seq, v_cum, v_first_amount
  FROM paya_payments WHERE tenant_id = p_tenant AND sender_id = v_sid AND created_at >= p_day_ago
  ORDER BY created_at, sender_seq LIMIT 1;
  v_d := CASE WHEN v_seq IS NULL THEN 0 ELSE v_count - v_seq + 1 END;
  v_total := CASE WHEN v_seq IS NULL THEN 0 ELSE v_amount - (v_cum - v_first_amount) END;
  v_seq := NULL;
  SELECT sender_seq INTO v_seq
  FROM paya_payments WHERE tenant_id = p_tenant AND sender_id = v_sid AND created_at >= p_hour_ago
  ORDER BY created_at, sender_seq LIMIT 1;
  v_h := CASE WHEN v_seq IS NULL THEN 0 ELSE v_count - v_seq + 1 END;
  WITH f AS (
    SELECT coalesce(array_agg(rule::text) FILTER (WHERE user_id = v_sid), '{}') AS sr,
           coalesce(array_agg(rule::text) FILTER (WHERE user_id = v_rid), '{}') AS rr
    FROM paya_flags
    WHERE tenant_id = p_tenant AND user_id IN (v_sid, v_rid)
      AND resolved_at IS NULL AND source = 'rule'
  )
  SELECT
    (SELECT count(*) FROM (SELECT 1 FROM paya_pairs
       WHERE tenant_id = p_tenant AND sender_id = v_sid AND last_at >= p_day_ago
       LIMIT p_unique_per_day) u),
    EXISTS (SELECT 1 FROM paya_pairs WHERE tenant_id = p_tenant AND sender_id = v_sid
            AND recipient_id = v_rid AND last_at >= p_day_ago),
    f.sr, f.rr,
    CASE WHEN NOT 'velocity' = ANY (f.sr) THEN (
      SELECT json_agg(json_build_array(id, sender_id, recipient_id, amount, public, created_at))
      FROM paya_payments
      WHERE tenant_id = p_tenant AND sender_id = v_sid AND recipient_id = v_rid
        AND created_at >= p_hour_ago) END,
    CASE WHEN NOT 'money_mule' = ANY (f.rr) THEN (
      SELECT json_agg(json_build_array(id, sender_id, recipient_id, amount, public, created_at))
      FROM (SELECT DISTINCT ON (sender_id) * FROM paya_payments
            WHERE tenant_id = p_tenant AND recipient_id = v_rid AND created_at >= p_mule_since
            ORDER BY sender_id, created_at DESC LIMIT p_mule_rows) m) END,
    CASE WHEN NOT 'circular' = ANY (f.sr) THEN (
      SELECT json_agg(json_build_array(id, sender_id, recipient_id, amount, public, created_at))
      FROM ((SELECT * FROM paya_payments
             WHERE tenant_id = p_tenant AND sender_id = v_rid AND recipient_id = v_sid
               AND created_at >= p_circular_since LIMIT 1)
            UNION ALL
            (SELECT v.* FROM (
               WITH outs AS MATERIALIZED (
                 SELECT DISTINCT recipient_id FROM paya_payments
                 WHERE tenant_id = p_tenant AND sender_id = v_rid
                   AND recipient_id <> v_sid AND created_at >= p_circular_since),
               ins AS MATERIALIZED (
                 SELECT DISTINCT sender_id FROM paya_payments
                 WHERE tenant_id = p_tenant AND recipient_id = v_sid
                   AND created_at >= p_circular_since)
               SELECT outs.recipient_id AS via FROM outs JOIN ins
                 ON ins.sender_id = outs.recipient_id
               ORDER BY outs.recipient_id LIMIT 1) hop
             CROSS JOIN LATERAL (
               (SELECT * FROM paya_payments
                WHERE tenant_id = p_tenant AND sender_id = v_rid AND recipient_id = hop.via
                  AND created_at >= p_circular_since LIMIT 1)
               UNION ALL
               (SELECT * FROM paya_payments
                WHERE tenant_id = p_tenant AND sender_id = hop.via AND recipient_id = v_sid
                  AND created_at >= p_circular_since LIMIT 1)) v)) e) END,
    CASE WHEN v_rcreated > p_new_after AND NOT 'load_then_send_new_account' = ANY (f.sr) THEN (
      SELECT json_agg(json_build_array(amount, created_at)) FROM paya_movements
      WHERE tenant_id = p_tenant AND user_id = v_sid AND kind = 'load'
        AND status IN ('queued', 'pending', 'settled') AND created_at >= p_load_since) END,
    CASE WHEN NOT p_public AND NOT 'private_only' = ANY (f.sr) THEN (
      SELECT json_build_array(
        coalesce(v_count - min(sender_seq) + 1, 0),
        coalesce(v_last_public >= p_now - make_interval(days => p_private_window_days),
                 false)::int)
      FROM (SELECT sender_seq FROM paya_payments
            WHERE tenant_id = p_tenant AND sender_id = v_sid
              AND created_at >= p_now - make_interval(days => p_private_window_days)
            ORDER BY created_at, sender_seq LIMIT 1) w) END
  INTO v_rd, v_paid, v_sr, v_rr, v_velocity, v_mule, v_circular, v_loads, v_private
  FROM f;
  -- 3. the limits (rolling windows), in the order the spec lists them
  detail := CASE
    WHEN v_h >= p_per_hour THEN jsonb_build_object('limit', 'sends_per_hour', 'value', p_per_hour)
    WHEN v_d >= p_per_day THEN jsonb_build_object('limit', 'sends_per_day', 'value', p_per_day)
    WHEN NOT v_paid AND v_rd >= p_unique_per_day THEN
      jsonb_build_object('limit', 'unique_recipients_per_day', 'value', p_unique_per_day)
    WHEN v_screated > p_new_after AND v_total + p_amount > p_cooling_limit THEN
      jsonb_build_object('limit', 'cooling_period_daily_send', 'value', p_cooling_limit) END;
  IF detail IS NOT NULL THEN
    outcome := 'LIMIT';
  ELSE
    -- 4. the credited account: the wallet, or a hot recipient's sharded incoming account
    v_to := v_rwallet;
    IF p_hot THEN
      SELECT id INTO v_to FROM ledger_accounts
      WHERE tenant_id = p_tenant AND owner_type = 'user' AND owner_id = v_rid
        AND asset = 'TOKEN' AND purpose = 'incoming';
      IF v_to IS NULL THEN
        outcome := 'NO_INCOMING';
      END IF;
    END IF;
  END IF;
  IF outcome IS NULL THEN
    -- 5. the ledger transaction (the same request hash as the ledger's Python digest)
    v_hash := encode(sha256(convert_to(p_kind || '|' || (
      SELECT string_agg(a::text || ':' || m::text, '|' ORDER BY a::text COLLATE "C")
      FROM unnest(ARRAY[v_swallet, v_to], ARRAY[-p_amount, p_amount]) AS e(a, m)), 'UTF8')),
      'hex');
    SELECT * INTO l FROM ledger_transfer_retryable(p_tenant, p_ledger_key, p_kind, p_metadata,
      v_hash, ARRAY[v_swallet, v_to], ARRAY[-p_amount, p_amount]);
    tx_id := l.tx_id;
    IF l.err IS NOT NULL THEN
      outcome := 'LEDGER';
      detail := jsonb_build_object('code', l.err, 'detail', l.detail);
    ELSIF l.replayed THEN
      outcome := 'REPLAYED';
    ELSE
      -- 6. the payment, and for a public one the feed NOTIFY (delivered only at commit)
      INSERT INTO paya_payments (id, tenant_id, sender_id, recipient_id, sender_username,
        recipient_username, amount, memo, public, ledger_tx_id, idempotency_key, created_at,
        sender_seq, sender_cum)
      VALUES (p_payment, p_tenant, v_sid, v_rid, v_sname, v_rname, p_amount, p_memo, p_public,
        l.tx_id, p_idem_key, v_now, v_count + 1, v_amount + p_amount);
      UPDATE paya_profiles SET sent_count = v_count + 1, sent_amount = v_amount + p_amount,
        last_sent_at = v_now,
        last_public_at = CASE WHEN p_public THEN v_now ELSE last_public_at END
      WHERE tenant_id = p_tenant AND user_id = v_sid;
      INSERT INTO paya_pairs (tenant_id, sender_id, recipient_id, last_at)
      VALUES (p_tenant, v_sid, v_rid, v_now)
      ON CONFLICT (tenant_id, sender_id, recipient_id) DO UPDATE SET last_at = EXCLUDED.last_at;
      created_at := v_now;
      IF p_public THEN
        v_item := jsonb_build_object('id', p_payment, 'sender', v_sname, 'recipient', v_rname,
          'memo', p_memo,
          'created_at', CASE WHEN v_now = p_now THEN to_jsonb(p_now_text) ELSE to_jsonb(v_now) END);
        IF p_feed_amount THEN
          v_item := v_item || jsonb_build_object('amount', p_amount);
        END IF;
        PERFORM pg_notify(p_channel,
          jsonb_build_object('tenant_id', p_tenant, 'item', v_item)::text);
      END IF;
      outcome := 'OK';
    END IF;
  END IF;
  RETURN QUERY SELECT outcome, detail, tx_id, created_at, v_sid, v_sname, v_swallet, v_screated,
    v_rid, v_rname, v_rcreated, v_sr, v_rr,
    v_velocity, v_mule, v_circular, v_loads, v_private;
END
$$
"""


def upgrade() -> None:
    op.add_column("paya_payments", sa.Column("sender_seq", sa.BigInteger()))
    op.add_column("paya_payments", sa.Column("sender_cum", sa.BigInteger()))
    op.execute(
        "UPDATE paya_payments p SET sender_seq = n.seq, sender_cum = n.cum FROM ("
        " SELECT id, row_number() OVER w AS seq, sum(amount) OVER w AS cum FROM paya_payments"
        " WINDOW w AS (PARTITION BY tenant_id, sender_id ORDER BY created_at, id)) n"
        " WHERE n.id = p.id"
    )
    op.alter_column("paya_payments", "sender_seq", nullable=False)
    op.alter_column("paya_payments", "sender_cum", nullable=False)
    for name in ("sent_count", "sent_amount"):
        op.add_column(
            "paya_profiles",
            sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"),
        )
    op.add_column("paya_profiles", sa.Column("last_sent_at", sa.DateTime(timezone=True)))
    op.add_column("paya_profiles", sa.Column("last_public_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE paya_profiles f SET sent_count = s.n, sent_amount = s.total,"
        " last_sent_at = s.last, last_public_at = s.last_public FROM ("
        " SELECT tenant_id, sender_id, count(*) AS n, sum(amount) AS total,"
        " max(created_at) AS last, max(created_at) FILTER (WHERE public) AS last_public"
        " FROM paya_payments GROUP BY tenant_id, sender_id) s"
        " WHERE s.tenant_id = f.tenant_id AND s.sender_id = f.user_id"
    )
    op.create_table(
        "paya_pairs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_paya_pairs_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "sender_id", "recipient_id", name=op.f("pk_paya_pairs")
        ),
    )
    enable_tenant_rls("paya_pairs")
    op.execute(
        "INSERT INTO paya_pairs (tenant_id, sender_id, recipient_id, last_at)"
        " SELECT tenant_id, sender_id, recipient_id, max(created_at) FROM paya_payments"
        " GROUP BY tenant_id, sender_id, recipient_id"
    )
    op.execute(f"DROP FUNCTION {_paya_0003().SIGNATURE}")
    op.execute(SEND)


def downgrade() -> None:
    previous = _paya_0003()
    op.execute(f"DROP FUNCTION {previous.SIGNATURE}")
    op.execute(previous.SEND)
    op.drop_table("paya_pairs")
    for name in ("last_public_at", "last_sent_at", "sent_amount", "sent_count"):
        op.drop_column("paya_profiles", name)
    op.drop_column("paya_payments", "sender_cum")
    op.drop_column("paya_payments", "sender_seq")
