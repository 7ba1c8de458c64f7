"""Fraud evaluation on each payment: run the pure rules (rules.py) over the activity read
with the send's limits (p2p.py), and open one flag per (user, rule) until an admin resolves
it.

Flags do not block payments by themselves: they queue the account for review and make it
ineligible for rewards; an admin decides whether to freeze.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.service import emit
from ludus.paya import repository as repo
from ludus.paya.config import PayaConfig
from ludus.paya.p2p import SendFacts
from ludus.paya.rules import Activity, Finding, PaymentFact, evaluate

SOURCE = "paya"


def findings_for_send(
    config: PayaConfig,
    facts: SendFacts,
    payment: PaymentFact,
    created_at: dict[uuid.UUID, datetime],
    now: datetime,
) -> list[Finding]:
    """The rules' findings for a payment just made, from the facts read with its limits
    (p2p.send); rules whose flag is already open are not evaluated."""
    activity = Activity(
        now=now,
        payment=payment,
        recent=[*facts.recent, payment],
        loads=facts.loads,
        created_at=created_at,
        sender_sent_in_window=facts.sent_in_window + 1,
        sender_public_in_window=facts.public_in_window + payment.public,
    )
    return evaluate(activity, config.fraud, config.new_account, skip=facts.skip)


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
