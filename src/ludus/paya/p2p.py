"""The SQL of a P2P send: one call of `paya_send()` (a PL/pgSQL function, migration
paya_0003) in steady state.

The function locks the sender's profile (FOR UPDATE), reads the recipient's, and then, in
statements of its own and so with snapshots taken after the lock, reads what the limits and
the fraud rules need (the limits from the send counters of paya_0004: one index probe per
window, however many sends the window holds; both parties' open rule flags; and the rows
each fraud rule looks at, only for rules whose flag is not already open; the money-mule
rule's from paya_pairs, paya_0005), refuses a send over a limit, calls the ledger's
`ledger_transfer_retryable` and inserts the payment, queueing the feed NOTIFY for a public
one. A plain SQL statement could not do this: its snapshot is taken before it waits on the
lock. The call is sent as driver SQL on the session's connection and transaction (the
SQLAlchemy statement machinery buys nothing here); its outcome tells the service what to
raise or do next.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import driver
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

OK, REPLAYED, LEDGER, LIMIT, FROZEN = "OK", "REPLAYED", "LEDGER", "LIMIT", "FROZEN"
NO_PROFILE, NO_RECIPIENT, SELF, NO_INCOMING = "NO_PROFILE", "NO_RECIPIENT", "SELF", "NO_INCOMING"
SENDER_RULES = (VELOCITY, CIRCULAR, LOAD_THEN_SEND, PRIVATE_ONLY)


@dataclass(frozen=True)
class SendFacts:
    """What the fraud rules need about a send, read before its payment was inserted."""

    skip: frozenset[str]  # rules not to evaluate (flag already open, or cannot fire)
    recent: list[PaymentFact] = field(default_factory=list)  # excluding this payment
    loads: list[LoadFact] = field(default_factory=list)
    sent_in_window: int = 0  # private-only window, excluding this payment
    public_in_window: int = 0


@dataclass(frozen=True)
class SendResult:
    outcome: str
    detail: dict[str, Any]
    tx_id: uuid.UUID | None
    created_at: datetime | None  # the payment's time (OK): `now`, or the sender's last if later
    sender_id: uuid.UUID | None
    sender_username: str | None
    sender_wallet: uuid.UUID | None
    sender_created_at: datetime | None
    recipient_id: uuid.UUID | None
    recipient_username: str | None
    recipient_created_at: datetime | None
    facts: SendFacts | None  # only when the limits were checked


@dataclass
class SentPayment:
    """A payment as written by `paya_send` (its columns; no ORM instance to build)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    sender_id: uuid.UUID
    recipient_id: uuid.UUID
    sender_username: str
    recipient_username: str
    amount: int
    memo: str
    public: bool
    ledger_tx_id: uuid.UUID
    idempotency_key: str | None
    created_at: datetime


_SEND = (
    "SELECT outcome, detail, tx_id, created_at, s_user_id, s_username, s_wallet, s_created_at,"
    " r_user_id, r_username, r_created_at, sender_rules, recipient_rules, velocity, mule,"
    " circular, loads, private FROM paya_send(%s::uuid, %s::uuid, %s, %s::bigint, %s,"
    " %s::boolean, %s::boolean, %s::uuid, %s, %s, %s, %s::jsonb, %s::timestamptz, %s, %s,"
    " %s::boolean, %s::timestamptz, %s::timestamptz, %s::timestamptz, %s::bigint, %s::bigint,"
    " %s::bigint, %s::bigint, %s::bigint, %s::integer, %s::timestamptz, %s::timestamptz,"
    " %s::timestamptz, %s::integer)"
)


def _payments(rows: list[list[Any]] | None) -> list[tuple[str, PaymentFact]]:
    return [
        (r[0], PaymentFact(uuid.UUID(r[1]), uuid.UUID(r[2]), r[3], r[4],
                           datetime.fromisoformat(r[5])))
        for r in rows or ()
    ]  # fmt: skip


def _facts(row: Any, sender_id: uuid.UUID, new_recipient: bool, public: bool) -> SendFacts:
    skip = {r for r in SENDER_RULES if r in row.sender_rules}
    if MONEY_MULE in row.recipient_rules:
        skip.add(MONEY_MULE)
    if not new_recipient:
        skip.add(LOAD_THEN_SEND)
    if row.private is None:
        skip.add(PRIVATE_ONLY)
    recent: dict[str, PaymentFact] = {}  # by payment id: the rule queries may overlap
    for rows in (row.velocity, row.mule, row.circular):
        recent.update(_payments(rows))
    loads = [LoadFact(sender_id, r[0], datetime.fromisoformat(r[1])) for r in row.loads or ()]
    sent, public_sent = row.private or (0, 0)
    return SendFacts(
        skip=frozenset(skip),
        recent=list(recent.values()),
        loads=loads,
        sent_in_window=sent,
        public_in_window=public_sent,
    )


async def send(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    payment_id: uuid.UUID,
    sender_id: uuid.UUID,
    recipient_key: str,
    amount: int,
    memo: str,
    public: bool,
    hot: bool,
    kind: str,
    ledger_key: str,
    idempotency_key: str | None,
    channel: str,
    config: PayaConfig,
    now: datetime,
) -> SendResult:
    """One `paya_send` call; the sender's profile row stays locked until the transaction
    ends. With outcome OK the payment (id `payment_id`, created `now`) has been written."""
    limits, fraud, new = config.limits, config.fraud, config.new_account
    new_after = now - timedelta(days=new.cooling_period_days)
    params = (
        tenant_id, sender_id, recipient_key, amount, memo, public, hot, payment_id, kind,
        ledger_key, idempotency_key,
        orjson.dumps({"to": recipient_key, "public": public}).decode(),
        now, now.isoformat(), channel, config.feed_show_amounts,
        new_after, now - timedelta(days=1), now - timedelta(hours=1),
        limits.max_transfer, limits.sends_per_hour, limits.sends_per_day,
        limits.unique_recipients_per_day, new.cooling_daily_send_limit,
        fraud.mule_unique_senders_24h, now - timedelta(hours=24),
        now - timedelta(hours=fraud.circular_window_hours),
        now - timedelta(minutes=fraud.load_then_send_minutes), fraud.private_only_window_days,
    )  # fmt: skip
    (row,) = await driver.fetch(session, _SEND, params)
    facts = None
    if row.sender_rules is not None and row.outcome != LIMIT:
        facts = _facts(row, row.s_user_id, row.r_created_at > new_after, public)
    return SendResult(
        outcome=row.outcome,
        detail=row.detail or {},
        tx_id=row.tx_id,
        created_at=row.created_at,
        sender_id=row.s_user_id,
        sender_username=row.s_username,
        sender_wallet=row.s_wallet,
        sender_created_at=row.s_created_at,
        recipient_id=row.r_user_id,
        recipient_username=row.r_username,
        recipient_created_at=row.r_created_at,
        facts=facts,
    )
