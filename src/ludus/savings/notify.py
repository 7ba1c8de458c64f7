"""Member messages over SMS and WhatsApp through core notifications (which applies each
member's preferences and quiet hours, and queues delivery). A drained batch's messages of
one kind go out with one `notify_many`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.notifications.bulk import Recipient, notify_many
from ludus.core.notifications.models import Channel, NotificationMessage
from ludus.core.notifications.service import notify
from ludus.core.notifications.templates import register_default
from ludus.savings.models import Deposit, Member, SavingsOrg

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


async def send_many(
    session: AsyncSession,
    org: SavingsOrg,
    key: str,
    messages: list[tuple[Member, dict[str, object], str]],
) -> list[NotificationMessage]:
    """One kind of message to many members: (member, context, dedupe key) each. Delivery
    is left to the caller (`schedule_delivery`), so several kinds share batch jobs."""
    return await notify_many(
        session,
        tenant_id=org.tenant_id,
        kind=key,
        template_key=key,
        recipients=[
            Recipient(member.user_id, {"org": brand(org), **context}, dedupe_key)
            for member, context, dedupe_key in messages
        ],
        channels=CHANNELS,
        schedule=False,
    )


def receipt_message(
    member: Member, deposit: Deposit, total: int
) -> tuple[Member, dict[str, object], str]:
    context: dict[str, object] = {
        "amount": kes(deposit.amount), "receipt": deposit.receipt, "total": kes(total)
    }  # fmt: skip
    return member, context, f"savings:receipt:{deposit.receipt}"
