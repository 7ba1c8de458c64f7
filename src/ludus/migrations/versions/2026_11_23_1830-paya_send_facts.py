"""paya: paya_send_facts(), the first step of a P2P send in one round trip

A send must read its limits and fraud facts AFTER it holds the sender's profile lock, so the
read sees every earlier send of this sender. One SQL statement cannot do both (its snapshot
is taken before it waits on the lock), but each statement of a VOLATILE PL/pgSQL function
takes a fresh snapshot: the function locks, then reads, in a single call.

Revision ID: paya_0002
Revises: merge_0001
Create Date: 2026-11-23 18:30:00
"""

from __future__ import annotations

from alembic import op

revision = "paya_0002"
down_revision = "merge_0001"
branch_labels = None
depends_on = None

SEND_FACTS = """
CREATE FUNCTION paya_send_facts(
  p_tenant uuid, p_sender uuid, p_key text, p_public boolean, p_new_after timestamptz,
  p_day_ago timestamptz, p_hour_ago timestamptz, p_limit_rows integer,
  p_mule_since timestamptz, p_mule_rows integer, p_circular_since timestamptz,
  p_load_since timestamptz, p_private_since timestamptz)
RETURNS TABLE (
  s_user_id uuid, s_username text, s_wallet uuid, s_status text, s_created_at timestamptz,
  r_user_id uuid, r_username text, r_wallet uuid, r_status text, r_created_at timestamptz,
  sends_hour bigint, sends_day bigint, recipients_day bigint, paid_recipient_today boolean,
  sent_today bigint, sender_rules text[], recipient_rules text[],
  velocity json, mule json, circular json, loads json, private json)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_sid uuid; v_sname text; v_swallet uuid; v_sstatus text; v_screated timestamptz;
  v_rid uuid; v_rname text; v_rwallet uuid; v_rstatus text; v_rcreated timestamptz;
  v_new boolean;
BEGIN
  -- 1. the sender's profile, locked until the transaction ends (serializes its sends)
  SELECT user_id, username, wallet_account_id, status, created_at
    INTO v_sid, v_sname, v_swallet, v_sstatus, v_screated
  FROM paya_profiles WHERE tenant_id = p_tenant AND user_id = p_sender FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;  -- no row: the caller has no profile
  END IF;
  SELECT user_id, username, wallet_account_id, status, created_at
    INTO v_rid, v_rname, v_rwallet, v_rstatus, v_rcreated
  FROM paya_profiles WHERE tenant_id = p_tenant AND username_key = p_key;
  IF v_rid IS NULL OR v_rid = v_sid OR 'frozen' IN (v_sstatus, v_rstatus) THEN
    -- the send is refused: the parties only, no facts
    RETURN QUERY SELECT v_sid, v_sname, v_swallet, v_sstatus, v_screated,
      v_rid, v_rname, v_rwallet, v_rstatus, v_rcreated,
      NULL::bigint, NULL::bigint, NULL::bigint, NULL::boolean, NULL::bigint,
      NULL::text[], NULL::text[], NULL::json, NULL::json, NULL::json, NULL::json, NULL::json;
    RETURN;
  END IF;
  v_new := v_rcreated > p_new_after;
  -- 2. a new snapshot: every earlier send of this sender has committed. Limits read the
  -- sender's newest sends of the day (at most p_limit_rows); each fraud rule reads its rows
  -- only while its flag is not already open.
  RETURN QUERY
  WITH f AS (
    SELECT coalesce(array_agg(rule::text) FILTER (WHERE user_id = v_sid), '{}') AS sr,
           coalesce(array_agg(rule::text) FILTER (WHERE user_id = v_rid), '{}') AS rr
    FROM paya_flags
    WHERE tenant_id = p_tenant AND user_id IN (v_sid, v_rid)
      AND resolved_at IS NULL AND source = 'rule'
  ), mine AS (
    SELECT recipient_id, amount, created_at FROM paya_payments
    WHERE tenant_id = p_tenant AND sender_id = v_sid AND created_at >= p_day_ago
    ORDER BY created_at DESC LIMIT p_limit_rows
  )
  SELECT v_sid, v_sname, v_swallet, v_sstatus, v_screated,
    v_rid, v_rname, v_rwallet, v_rstatus, v_rcreated,
    lim.h, lim.d, lim.rd, lim.paid, lim.total, f.sr, f.rr,
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
               -- both sides read through their own (tenant, party, created_at) index, so
               -- no plan can walk the tenant's whole history to produce X in order
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
    CASE WHEN v_new AND NOT 'load_then_send_new_account' = ANY (f.sr) THEN (
      SELECT json_agg(json_build_array(amount, created_at)) FROM paya_movements
      WHERE tenant_id = p_tenant AND user_id = v_sid AND kind = 'load'
        AND status IN ('queued', 'pending', 'settled') AND created_at >= p_load_since) END,
    CASE WHEN NOT p_public AND NOT 'private_only' = ANY (f.sr) THEN (
      SELECT json_build_array(count(*), count(*) FILTER (WHERE public)) FROM paya_payments
      WHERE tenant_id = p_tenant AND sender_id = v_sid AND created_at >= p_private_since) END
  FROM f, (
    SELECT count(*) FILTER (WHERE created_at >= p_hour_ago) AS h, count(*) AS d,
           count(DISTINCT recipient_id) AS rd,
           coalesce(bool_or(recipient_id = v_rid), false) AS paid,
           coalesce(sum(amount), 0)::bigint AS total
    FROM mine) lim;
END
$$
"""


def upgrade() -> None:
    op.execute(SEND_FACTS)


def downgrade() -> None:
    op.execute(
        "DROP FUNCTION IF EXISTS paya_send_facts(uuid, uuid, text, boolean, timestamptz,"
        " timestamptz, timestamptz, integer, timestamptz, integer, timestamptz, timestamptz,"
        " timestamptz)"
    )
