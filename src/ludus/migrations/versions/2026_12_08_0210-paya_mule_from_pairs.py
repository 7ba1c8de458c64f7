"""paya: the money-mule read from paya_pairs instead of the recipient's day of payments

The money-mule rule looks at the recipient's latest payment from each sender in 24 h (up to
its threshold). It read them from paya_payments with DISTINCT ON over every payment the
recipient received in 24 h, so for a busy merchant (whose flag stays closed while fewer
than the threshold of senders pay it) the read grew with the merchant's day. paya_pairs
already has one row per (sender, recipient) with the latest payment's time; it now also
keeps that payment's id, amount and public flag, and an index by (tenant, recipient,
last_at) makes the read at most `mule_unique_senders_24h` index entries.

Revision ID: paya_0005
Revises: paya_0004
Create Date: 2026-12-08 02:10:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from ludus.migrations import revisions

revision = "paya_0005"
down_revision = "paya_0004"
branch_labels = None
depends_on = None


def _previous(name: str) -> Any:
    return revisions.load(name)


def _paya_0004() -> Any:
    return _previous("2026_12_08_0205-paya_send_counters.py")


def _signature() -> str:
    return str(_previous("2026_12_08_0140-paya_send.py").SIGNATURE)


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
      -- the recipient's latest payment from each sender (paya_pairs), newest first
      SELECT json_agg(json_build_array(last_payment_id, sender_id, recipient_id, last_amount,
                                       last_public, last_at))
      FROM (SELECT * FROM paya_pairs
            WHERE tenant_id = p_tenant AND recipient_id = v_rid AND last_at >= p_mule_since
            ORDER BY last_at DESC LIMIT p_mule_rows) m) END,
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
      INSERT INTO paya_pairs (tenant_id, sender_id, recipient_id, last_at, last_payment_id,
        last_amount, last_public)
      VALUES (p_tenant, v_sid, v_rid, v_now, p_payment, p_amount, p_public)
      ON CONFLICT (tenant_id, sender_id, recipient_id) DO UPDATE SET last_at = EXCLUDED.last_at,
        last_payment_id = EXCLUDED.last_payment_id, last_amount = EXCLUDED.last_amount,
        last_public = EXCLUDED.last_public;
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
    op.add_column("paya_pairs", sa.Column("last_payment_id", sa.Uuid()))
    op.add_column("paya_pairs", sa.Column("last_amount", sa.BigInteger()))
    op.add_column("paya_pairs", sa.Column("last_public", sa.Boolean()))
    op.execute(
        "UPDATE paya_pairs x SET last_payment_id = p.id, last_amount = p.amount,"
        " last_public = p.public FROM ("
        " SELECT DISTINCT ON (tenant_id, sender_id, recipient_id) * FROM paya_payments"
        " ORDER BY tenant_id, sender_id, recipient_id, created_at DESC, sender_seq DESC) p"
        " WHERE p.tenant_id = x.tenant_id AND p.sender_id = x.sender_id"
        " AND p.recipient_id = x.recipient_id"
    )
    for name in ("last_payment_id", "last_amount", "last_public"):
        op.alter_column("paya_pairs", name, nullable=False)
    op.create_index(
        "ix_paya_pairs_tenant_id_recipient_id_last_at",
        "paya_pairs",
        ["tenant_id", "recipient_id", "last_at"],
    )
    op.execute(f"DROP FUNCTION {_signature()}")
    op.execute(SEND)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {_signature()}")
    op.execute(_paya_0004().SEND)
    op.drop_index("ix_paya_pairs_tenant_id_recipient_id_last_at", table_name="paya_pairs")
    for name in ("last_public", "last_amount", "last_payment_id"):
        op.drop_column("paya_pairs", name)
