"""Member messages over SMS and WhatsApp through core notifications (which applies each
member's preferences and quiet hours, and queues delivery). A drained batch's messages (every
kind) go in with one `notify_batches` and are sent by the job that wrote them."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.notifications.bulk import Claimed, Recipient, Send, notify_batches
from ludus.core.notifications.models import Channel
from ludus.core.notifications.service import notify
from ludus.core.notifications.templates import register_default
from ludus.savings.models import Member, SavingsOrg

CHANNELS = [Channel.sms, Channel.whatsapp]
TEMPLATES = {
    "savings.deposit_receipt": "{{ org }}: received KES {{ amount }} (ref {{ receipt }}). "
    "Total saved KES {{ total }}. Keep going!",
    "savings.challenge_starting": "{{ org }}: the challenge '{{ challenge }}' starts {{ when }}.",
    "savings.challenge_ending": "{{ org }}: '{{ challenge }}' ends {{ when }}. "
    "You are #{{ rank }} with {{ points }} points.",
    "savings.streak_at_risk": "{{ org }}: save before {{ deadline }} to keep your "
    "{{ weeks }}-week streak in '{{ challenge }}'.",
    "savings.rank_changed": "{{ org }}: you moved to #{{ rank }} in '{{ challenge }}' "
    "({{ points }} points).",
    "savings.challenge_result": "{{ org }}: '{{ challenge }}' is over. You finished #{{ rank }} "
    "with {{ points }} points{% if completed %} and completed it{% endif %}.",
}
for _key, _body in TEMPLATES.items():
    for _channel in CHANNELS:
        register_default(_key, _channel, "en", _body)


def kes(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


def brand(org: SavingsOrg) -> str:
    return str(org.branding.get("brand_name") or "Savings")


async def send(
    session: AsyncSession,
    org: SavingsOrg,
    member: Member,
    key: str,
    context: dict[str, object],
    dedupe_key: str,
) -> None:
    await notify(
        session,
        tenant_id=org.tenant_id,
        user_id=member.user_id,
        kind=key,
        template_key=key,
        context={"org": brand(org), **context},
        channels=CHANNELS,
        dedupe_key=dedupe_key,
    )


async def send_batches(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    brand_name: str,
    messages: dict[str, list[tuple[uuid.UUID, dict[str, object], str]]],
) -> list[Claimed]:
    """Several kinds at once, (user id, context, dedupe key) each, with one insert; the
    messages due now come back leased, for `delivery.send_claimed` after the commit."""
    sends = [
        Send(key, key, [Recipient(user, {"org": brand_name, **ctx}, dedupe)
                        for user, ctx, dedupe in items])
        for key, items in messages.items()
    ]  # fmt: skip
    return await notify_batches(session, tenant_id=tenant_id, sends=sends, channels=CHANNELS)


def receipt_context(receipt: str, amount: int, total: int) -> tuple[dict[str, object], str]:
    """A deposit receipt's template context and dedupe key (one receipt per M-Pesa receipt)."""
    context: dict[str, object] = {"amount": kes(amount), "receipt": receipt, "total": kes(total)}
    return context, f"savings:receipt:{receipt}"
