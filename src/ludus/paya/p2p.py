"""The SQL of a P2P send: three statements besides the ledger call, all indexed and bounded.

1. `lock_parties`: the sender's profile FOR UPDATE and the recipient's profile, together.
2. `send_facts`: read after the lock, so its snapshot holds every earlier send of this
   sender. The sender's last-24 h sends for the limits (at most as many rows as the largest
   count limit: past that the send is refused anyway), both parties' open rule flags, and
   the rows each fraud rule looks at — only for rules whose flag is not already open, since
   re-checking those cannot raise anything new.
3. `insert_payment`: the payment row, with the feed NOTIFY in the same statement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.paya.config import PayaConfig
from ludus.paya.rules import (
    CIRCULAR,
    LOAD_THEN_SEND,
    MONEY_MULE,
    PRIVATE_ONLY,
    VELOCITY,
    LoadFact,
    PaymentFact,
)


@dataclass(frozen=True)
class Party:
    user_id: uuid.UUID
    username: str
    wallet_account_id: uuid.UUID
    status: str
    created_at: datetime


@dataclass(frozen=True)
class SendFacts:
    sends_hour: int  # the sender's sends in the last hour (up to the row bound)
    sends_day: int
    recipients_day: int  # distinct recipients in the last 24 h
    paid_recipient_today: bool
    sent_today: int  # tokens sent in the last 24 h
    skip: frozenset[str]  # rules not to evaluate (flag already open, or cannot fire)
    recent: list[PaymentFact] = field(default_factory=list)  # excluding this payment
    loads: list[LoadFact] = field(default_factory=list)
    sent_in_window: int = 0  # private-only window, excluding this payment
    public_in_window: int = 0


_COLUMNS = "user_id, username, wallet_account_id, status, created_at"
_LOCK_PARTIES = text(
    f"WITH s AS MATERIALIZED (SELECT {_COLUMNS} FROM paya_profiles"
    " WHERE tenant_id = :tenant AND user_id = :sender FOR UPDATE)"
    f" SELECT true AS is_sender, {_COLUMNS} FROM s"
    f" UNION ALL SELECT false, {_COLUMNS} FROM paya_profiles"
    " WHERE tenant_id = :tenant AND username_key = :key"
)


async def lock_parties(
    session: AsyncSession, tenant_id: uuid.UUID, sender: uuid.UUID, recipient_key: str
) -> tuple[Party | None, Party | None]:
    """(sender, recipient); the sender's row stays locked until the transaction ends."""
    rows = await session.execute(
        _LOCK_PARTIES, {"tenant": tenant_id, "sender": sender, "key": recipient_key}
    )
    found: dict[bool, Party] = {}
    for row in rows:
        found[row[0]] = Party(*row[1:])
    return found.get(True), found.get(False)


_SEND_FACTS = text("""
WITH f AS (
  SELECT coalesce(array_agg(rule) FILTER (WHERE user_id = :sender), '{}') AS sender_rules,
         coalesce(array_agg(rule) FILTER (WHERE user_id = :recipient), '{}') AS recipient_rules
  FROM paya_flags
  WHERE tenant_id = :tenant AND user_id IN (:sender, :recipient)
    AND resolved_at IS NULL AND source = 'rule'
), mine AS (
  SELECT recipient_id, amount, created_at FROM paya_payments
  WHERE tenant_id = :tenant AND sender_id = :sender AND created_at >= :day_ago
  ORDER BY created_at DESC LIMIT :limit_rows
)
SELECT lim.sends_hour, lim.sends_day, lim.recipients_day, lim.paid_recipient_today,
  lim.sent_today, f.sender_rules, f.recipient_rules,
  CASE WHEN NOT 'velocity' = ANY (f.sender_rules) THEN (
    SELECT json_agg(json_build_array(id, sender_id, recipient_id, amount, public, created_at))
    FROM paya_payments
    WHERE tenant_id = :tenant AND sender_id = :sender AND recipient_id = :recipient
      AND created_at >= :hour_ago) END AS velocity,
  CASE WHEN NOT 'money_mule' = ANY (f.recipient_rules) THEN (
    SELECT json_agg(json_build_array(id, sender_id, recipient_id, amount, public, created_at))
    FROM (SELECT DISTINCT ON (sender_id) * FROM paya_payments
          WHERE tenant_id = :tenant AND recipient_id = :recipient
            AND created_at >= :mule_since
          ORDER BY sender_id, created_at DESC LIMIT :mule_rows) m) END AS mule,
  CASE WHEN NOT 'circular' = ANY (f.sender_rules) THEN (
    SELECT json_agg(json_build_array(id, sender_id, recipient_id, amount, public, created_at))
    FROM ((SELECT * FROM paya_payments
           WHERE tenant_id = :tenant AND sender_id = :recipient AND recipient_id = :sender
             AND created_at >= :circular_since LIMIT 1)
          UNION ALL
          (SELECT v.* FROM (
             -- both sides read through their own (tenant, party, created_at) index, so no
             -- plan can walk the tenant's whole history to produce X in order
             WITH outs AS MATERIALIZED (
               SELECT DISTINCT recipient_id FROM paya_payments
               WHERE tenant_id = :tenant AND sender_id = :recipient
                 AND recipient_id <> :sender AND created_at >= :circular_since),
             ins AS MATERIALIZED (
               SELECT DISTINCT sender_id FROM paya_payments
               WHERE tenant_id = :tenant AND recipient_id = :sender
                 AND created_at >= :circular_since)
             SELECT outs.recipient_id AS via FROM outs JOIN ins
               ON ins.sender_id = outs.recipient_id
             ORDER BY outs.recipient_id LIMIT 1) hop
           CROSS JOIN LATERAL (
             (SELECT * FROM paya_payments
              WHERE tenant_id = :tenant AND sender_id = :recipient AND recipient_id = hop.via
                AND created_at >= :circular_since LIMIT 1)
             UNION ALL
             (SELECT * FROM paya_payments
              WHERE tenant_id = :tenant AND sender_id = hop.via AND recipient_id = :sender
                AND created_at >= :circular_since LIMIT 1)) v)) e) END AS circular,
  CASE WHEN :recipient_new AND NOT 'load_then_send_new_account' = ANY (f.sender_rules) THEN (
    SELECT json_agg(json_build_array(amount, created_at)) FROM paya_movements
    WHERE tenant_id = :tenant AND user_id = :sender AND kind = 'load'
      AND status IN ('queued', 'pending', 'settled') AND created_at >= :load_since) END AS loads,
  CASE WHEN NOT :public AND NOT 'private_only' = ANY (f.sender_rules) THEN (
    SELECT json_build_array(count(*), count(*) FILTER (WHERE public)) FROM paya_payments
    WHERE tenant_id = :tenant AND sender_id = :sender AND created_at >= :private_since
  ) END AS private
FROM f, (
  SELECT count(*) FILTER (WHERE created_at >= :hour_ago) AS sends_hour,
         count(*) AS sends_day, count(DISTINCT recipient_id) AS recipients_day,
         coalesce(bool_or(recipient_id = :recipient), false) AS paid_recipient_today,
         coalesce(sum(amount), 0) AS sent_today
  FROM mine) lim
""")
SENDER_RULES = (VELOCITY, CIRCULAR, LOAD_THEN_SEND, PRIVATE_ONLY)


def _payments(rows: list[list[Any]] | None) -> list[tuple[str, PaymentFact]]:
    return [
        (r[0], PaymentFact(uuid.UUID(r[1]), uuid.UUID(r[2]), r[3], r[4],
                           datetime.fromisoformat(r[5])))
        for r in rows or ()
    ]  # fmt: skip


async def send_facts(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    sender: Party,
    recipient: Party,
    public: bool,
    config: PayaConfig,
    now: datetime,
) -> SendFacts:
    limits, fraud, new = config.limits, config.fraud, config.new_account
    recipient_new = now - recipient.created_at < timedelta(days=new.cooling_period_days)
    params = {
        "tenant": tenant_id,
        "sender": sender.user_id,
        "recipient": recipient.user_id,
        "day_ago": now - timedelta(days=1),
        "hour_ago": now - timedelta(hours=1),
        "limit_rows": max(limits.sends_per_day, limits.sends_per_hour),
        "mule_since": now - timedelta(hours=24),
        "mule_rows": fraud.mule_unique_senders_24h,
        "circular_since": now - timedelta(hours=fraud.circular_window_hours),
        "recipient_new": recipient_new,
        "load_since": now - timedelta(minutes=fraud.load_then_send_minutes),
        "public": public,
        "private_since": now - timedelta(days=fraud.private_only_window_days),
    }
    row = (await session.execute(_SEND_FACTS, params)).one()
    skip = {r for r in SENDER_RULES if r in row.sender_rules}
    if MONEY_MULE in row.recipient_rules:
        skip.add(MONEY_MULE)
    if not recipient_new:
        skip.add(LOAD_THEN_SEND)
    if row.private is None:
        skip.add(PRIVATE_ONLY)
    recent: dict[str, PaymentFact] = {}  # by payment id: the rule queries may overlap
    for rows in (row.velocity, row.mule, row.circular):
        recent.update(_payments(rows))
    loads = [LoadFact(sender.user_id, r[0], datetime.fromisoformat(r[1])) for r in row.loads or ()]
    sent, public_sent = row.private or (0, 0)
    return SendFacts(
        sends_hour=row.sends_hour,
        sends_day=row.sends_day,
        recipients_day=row.recipients_day,
        paid_recipient_today=row.paid_recipient_today,
        sent_today=int(row.sent_today),
        skip=frozenset(skip),
        recent=list(recent.values()),
        loads=loads,
        sent_in_window=sent,
        public_in_window=public_sent,
    )


_INSERT = (
    "INSERT INTO paya_payments (id, tenant_id, sender_id, recipient_id, sender_username,"
    " recipient_username, amount, memo, public, ledger_tx_id, idempotency_key, created_at)"
    " VALUES (:id, :tenant_id, :sender_id, :recipient_id, :sender_username,"
    " :recipient_username, :amount, :memo, :public, :ledger_tx_id, :idempotency_key,"
    " :created_at)"
)
_INSERT_PRIVATE = text(_INSERT)
# A data-modifying CTE: the NOTIFY is queued only for the row inserted, in the same
# transaction, so it is delivered only if the payment commits.
_INSERT_PUBLIC = text(
    f"WITH p AS ({_INSERT} RETURNING id) SELECT pg_notify(:channel, :payload) FROM p"
)


async def insert_payment(
    session: AsyncSession, values: dict[str, Any], notify: tuple[str, str] | None
) -> None:
    """Insert a payment (all columns in `values`); `notify` = (channel, payload) if public."""
    if notify is None:
        await session.execute(_INSERT_PRIVATE, values)
    else:
        channel, payload = notify
        await session.execute(_INSERT_PUBLIC, {**values, "channel": channel, "payload": payload})
