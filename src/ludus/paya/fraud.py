"""Fraud evaluation on each movement: gather the recent activity around a payment, run the
pure rules (rules.py), and open one flag per (user, rule) until an admin resolves it.

Flags do not block payments by themselves: they queue the account for review and make it
ineligible for rewards; an admin decides whether to freeze.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.service import emit
from ludus.paya import repository as repo
from ludus.paya.config import PayaConfig
from ludus.paya.rules import Activity, Finding, PaymentFact, evaluate

SOURCE = "paya"


async def check_payment(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    config: PayaConfig,
    payment: PaymentFact,
    recent: Sequence[PaymentFact],
    created_at: dict[uuid.UUID, datetime],
    now: datetime,
) -> list[Finding]:
    """Evaluate every rule for a payment just made; store and announce new flags.

    `recent` is the last 24 hours of payments involving the sender or the recipient
    (already read for the limit checks), including this one.
    """
    rules = config.fraud
    loads = await repo.recent_loads(
        session,
        tenant_id,
        payment.sender,
        payment.at - timedelta(minutes=rules.load_then_send_minutes),
    )
    sent, public = await repo.sent_counts(
        session, tenant_id, payment.sender, now - timedelta(days=rules.private_only_window_days)
    )
    activity = Activity(
        now=now,
        payment=payment,
        recent=recent,
        loads=loads,
        created_at=created_at,
        sender_sent_in_window=sent,
        sender_public_in_window=public,
    )
    findings = evaluate(activity, rules, config.new_account)
    await record(session, tenant_id, findings)
    return findings


async def record(session: AsyncSession, tenant_id: uuid.UUID, findings: Sequence[Finding]) -> int:
    raised = 0
    for finding in findings:
        if await repo.add_rule_flag(
            session, tenant_id, finding.user_id, finding.rule, finding.reason, finding.details
        ):
            raised += 1
            await emit(
                session,
                event_type="paya.account.flagged",
                tenant_id=tenant_id,
                source=SOURCE,
                data={
                    "user_id": str(finding.user_id),
                    "rule": finding.rule,
                    "reason": finding.reason,
                    "details": finding.details,
                },
            )
    return raised
