"""paya: paya_send(), a whole P2P send in one round trip

`paya_send_facts()` (paya_0002) locked the sender and read the facts; the ledger call and
the payment insert (with the feed NOTIFY) were two more round trips. `paya_send()` does all
of it in one call: lock the sender's profile, read the recipient, then (in statements of
their own, so with snapshots taken after the lock) read the limit and fraud facts, refuse a
send over a limit, call `ledger_transfer_retryable` (the ledger's single write path, run
as the caller so the tenant rule and RLS apply) and insert the payment, queueing the feed
NOTIFY for a public one. A refusal (an outcome other than 'OK') has written nothing: the
ledger call undoes itself when it refuses, and the insert comes after it.

Outcomes: NO_PROFILE, NO_RECIPIENT, SELF, FROZEN (detail.side), LIMIT (detail.limit,
detail.value), NO_INCOMING (a hot recipient without its incoming account yet: the caller
opens it and calls again), LEDGER (detail.code, detail.detail: the ledger refused, RETRY
included), REPLAYED (the ledger key already paid; tx_id is the first transaction), OK.

Revision ID: paya_0003
Revises: ledger_0003
Create Date: 2026-12-08 01:40:00
"""

from __future__ import annotations

from alembic import op

revision = "paya_0003"
down_revision = "ledger_0003"
branch_labels = None
depends_on = None

SIGNATURE = (
    "paya_send(uuid, uuid, text, bigint, text, boolean, boolean, uuid, text, text, text,"
    " jsonb, timestamptz, text, text, boolean, timestamptz, timestamptz, timestamptz,"
    " bigint, bigint, bigint, bigint, bigint, integer, timestamptz, timestamptz,"
    " timestamptz, integer)"
)

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
  outcome text, detail jsonb, tx_id uuid,
  s_user_id uuid, s_username text, s_wallet uuid, s_created_at timestamptz,
  r_user_id uuid, r_username text, r_created_at timestamptz,
  sender_rules text[], recipient_rules text[],
  velocity json, mule json, circular json, loads json, private json)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_sid uuid; v_sname text; v_swallet uuid; v_sstatus text; v_screated timestamptz;
  v_rid uuid; v_rname text; v_rwallet uuid; v_rstatus text; v_rcreated timestamptz;
  v_to uuid; v_hash text; v_item jsonb;
  v_h bigint; v_d bigint; v_rd bigint; v_paid boolean; v_total bigint;
  v_sr text[]; v_rr text[];
  v_velocity json; v_mule json; v_circular json; v_loads json; v_private json;
  l record;
BEGIN
  -- 1. the sender's profile, locked until the transaction ends (serializes its sends)
  SELECT user_id, username, wallet_account_id, status, created_at
    INTO v_sid, v_sname, v_swallet, v_sstatus, v_screated
  FROM paya_profiles WHERE tenant_id = p_tenant AND user_id = p_sender FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'NO_PROFILE', NULL::jsonb, NULL::uuid, NULL::uuid, NULL::text,
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
    RETURN QUERY SELECT outcome, detail, NULL::uuid, v_sid, v_sname, v_swallet, v_screated,
      v_rid, v_rname, v_rcreated, NULL::text[], NULL::text[],
      NULL::json, NULL::json, NULL::json, NULL::json, NULL::json;
    RETURN;
  END IF;
  -- 2. a new snapshot: every earlier send of this sender has committed. Limits read the
  -- sender's newest sends of the day (at most as many as the largest count limit); each
  -- fraud rule reads its rows only while its flag is not already open.
  WITH f AS (
    SELECT coalesce(array_agg(rule::text) FILTER (WHERE user_id = v_sid), '{}') AS sr,
           coalesce(array_agg(rule::text) FILTER (WHERE user_id = v_rid), '{}') AS rr
    FROM paya_flags
    WHERE tenant_id = p_tenant AND user_id IN (v_sid, v_rid)
      AND resolved_at IS NULL AND source = 'rule'
  ), mine AS (
    SELECT recipient_id, amount, created_at FROM paya_payments
    WHERE tenant_id = p_tenant AND sender_id = v_sid AND created_at >= p_day_ago
    ORDER BY created_at DESC LIMIT greatest(p_per_day, p_per_hour)
  )
  SELECT lim.h, lim.d, lim.rd, lim.paid, lim.total, f.sr, f.rr,
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
      SELECT json_build_array(count(*), count(*) FILTER (WHERE public)) FROM paya_payments
      WHERE tenant_id = p_tenant AND sender_id = v_sid
        AND created_at >= p_now - make_interval(days => p_private_window_days)) END
  INTO v_h, v_d, v_rd, v_paid, v_total, v_sr, v_rr,
    v_velocity, v_mule, v_circular, v_loads, v_private
  FROM f, (
    SELECT count(*) FILTER (WHERE created_at >= p_hour_ago) AS h, count(*) AS d,
           count(DISTINCT recipient_id) AS rd,
           coalesce(bool_or(recipient_id = v_rid), false) AS paid,
           coalesce(sum(amount), 0)::bigint AS total
    FROM mine) lim;
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
        recipient_username, amount, memo, public, ledger_tx_id, idempotency_key, created_at)
      VALUES (p_payment, p_tenant, v_sid, v_rid, v_sname, v_rname, p_amount, p_memo, p_public,
        l.tx_id, p_idem_key, p_now);
      IF p_public THEN
        v_item := jsonb_build_object('id', p_payment, 'sender', v_sname, 'recipient', v_rname,
          'memo', p_memo, 'created_at', p_now_text);
        IF p_feed_amount THEN
          v_item := v_item || jsonb_build_object('amount', p_amount);
        END IF;
        PERFORM pg_notify(p_channel,
          jsonb_build_object('tenant_id', p_tenant, 'item', v_item)::text);
      END IF;
      outcome := 'OK';
    END IF;
  END IF;
  RETURN QUERY SELECT outcome, detail, tx_id, v_sid, v_sname, v_swallet, v_screated,
    v_rid, v_rname, v_rcreated, v_sr, v_rr,
    v_velocity, v_mule, v_circular, v_loads, v_private;
END
$$
"""


def upgrade() -> None:
    op.execute(SEND)


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
