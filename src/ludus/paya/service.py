"""Profiles (@usernames) and P2P transfers.

A transfer locks the sender's profile row first, so the sender's limit checks and the
debit are serialized (200 concurrent sends cannot overspend or slip past a limit); the
ledger then locks both wallets in id order. The feed NOTIFY is sent in the same
transaction, so it is delivered only if the transfer commits. The SQL is in p2p.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import User
from ludus.core.kit import clock
from ludus.core.kit.errors import IdempotencyKeyReused, error_code
from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import AccountFrozen
from ludus.core.ledger.models import LedgerTransaction
from ludus.paya import accounts, feed, fraud, p2p, usernames
from ludus.paya import repository as repo
from ludus.paya.config import PayaConfig
from ludus.paya.models import Payment, Profile
from ludus.paya.p2p import Party, SendFacts, SentPayment
from ludus.paya.rules import PaymentFact
from ludus.paya.schemas import ProfileCreate, TransferCreate

ProfileExists = error_code(409, "PAYA_PROFILE_EXISTS", "You already have a PaYa profile.")
UsernameTaken = error_code(409, "USERNAME_TAKEN", "This username is taken.")
ProfileRequired = error_code(403, "PAYA_PROFILE_REQUIRED", "Create your PaYa profile first.")
RecipientNotFound = error_code(404, "RECIPIENT_NOT_FOUND", "No member has this username.")
SelfTransfer = error_code(422, "SELF_TRANSFER", "You cannot send tokens to yourself.")
MemoTooLong = error_code(422, "MEMO_TOO_LONG", "The memo is too long.")
LimitExceeded = error_code(
    422, "TRANSFER_LIMIT_EXCEEDED", "This transfer is over one of your limits."
)
P2P_KIND = "paya.p2p"
PAYMENT_COLUMNS = tuple(f.name for f in fields(SentPayment))


async def create_profile(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, data: ProfileCreate
) -> Profile:
    key = usernames.validate(data.username)
    if await repo.profile_by_user(session, tenant_id, user_id) is not None:
        raise ProfileExists()
    if await repo.profile_by_username(session, tenant_id, key) is not None:
        raise UsernameTaken(details={"username": key})
    display_name = data.display_name
    if display_name is None:
        user = await session.get(User, user_id)
        display_name = user.display_name if user is not None else usernames.display_form(key)
    wallet = await accounts.open_wallet(session, tenant_id, user_id)
    profile = Profile(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        username=usernames.display_form(data.username),
        username_key=key,
        display_name=display_name,
        bio=data.bio,
        wallet_account_id=wallet,
        status="active",
        created_at=clock.utcnow(),
        updated_at=clock.utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(profile)
    except IntegrityError as exc:  # a concurrent sign-up took the name (or the user raced)
        raise UsernameTaken(details={"username": key}) from exc
    return profile


async def require_profile(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> Profile:
    profile = await repo.profile_by_user(session, tenant_id, user_id, lock=lock)
    if profile is None:
        raise ProfileRequired()
    return profile


def restrictions(profile: Profile, config: PayaConfig, now: datetime) -> dict[str, Any]:
    rules = config.new_account
    cooling_until = profile.created_at + timedelta(days=rules.cooling_period_days)
    redeem_from = profile.created_at + timedelta(days=rules.no_redeem_days)
    return {
        "cooling_period_until": cooling_until,
        "in_cooling_period": now < cooling_until,
        "first_week_load_cap": rules.first_week_max_load if now < cooling_until else None,
        "can_redeem_from": redeem_from,
        "can_redeem": now >= redeem_from,
    }


def check_limits(
    config: PayaConfig, sender: Party, amount: int, facts: SendFacts, now: datetime
) -> None:
    """Refuse a transfer over any limit. Hours and days are rolling windows."""
    limits = config.limits

    def refuse(limit: str, value: int) -> None:
        raise LimitExceeded(details={"limit": limit, "value": value})

    if amount > limits.max_transfer:
        refuse("max_transfer", limits.max_transfer)
    if facts.sends_hour >= limits.sends_per_hour:
        refuse("sends_per_hour", limits.sends_per_hour)
    if facts.sends_day >= limits.sends_per_day:
        refuse("sends_per_day", limits.sends_per_day)
    if not facts.paid_recipient_today and facts.recipients_day >= limits.unique_recipients_per_day:
        refuse("unique_recipients_per_day", limits.unique_recipients_per_day)
    new = config.new_account
    cooling = now < sender.created_at + timedelta(days=new.cooling_period_days)
    if cooling and facts.sent_today + amount > new.cooling_daily_send_limit:
        refuse("cooling_period_daily_send", new.cooling_daily_send_limit)


async def send(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    sender_user_id: uuid.UUID,
    data: TransferCreate,
    idempotency_key: str | None,
) -> SentPayment:
    """Pay @username: 3 statements (lock and facts, ledger call, insert + NOTIFY) in steady
    state; flags are written only when a rule fires for the first time. Payments to a hot
    recipient are credited to its sharded incoming account (accounts.py)."""
    config = await accounts.rules(session, tenant_id)
    if len(data.memo) > config.limits.max_memo_length:
        raise MemoTooLong(details={"max_length": config.limits.max_memo_length})
    to_key = usernames.normalize(data.to)
    conn = await session.connection()
    sender, recipient, facts = await p2p.lock_and_read(
        conn, tenant_id, sender_id=sender_user_id, recipient_key=to_key, public=data.public,
        config=config, now=clock.utcnow(),
    )  # fmt: skip
    now = clock.utcnow()  # after the lock wait: the windows above reach back a little further
    if sender is None:
        raise ProfileRequired()
    key = idempotency_key or uuid.uuid4().hex
    if sender.status == "frozen":
        raise AccountFrozen(details={"username": sender.username, "side": "sender"})
    if recipient is None:
        raise RecipientNotFound(details={"to": data.to})
    if recipient.user_id == sender.user_id:
        raise SelfTransfer()
    if recipient.status == "frozen" or facts is None:
        raise AccountFrozen(details={"username": recipient.username, "side": "recipient"})
    check_limits(config, sender, data.amount, facts, now)
    to_account = recipient.wallet_account_id
    if to_key in config.hot_recipients:
        to_account = (
            await accounts.incoming_account(session, tenant_id, recipient.user_id, create=True)
            or to_account
        )

    def move() -> Awaitable[LedgerTransaction]:
        return ledger.move(
            session,
            tenant_id=tenant_id,
            idempotency_key=f"paya:p2p:{sender.user_id}:{key}",
            kind=P2P_KIND,
            from_account=sender.wallet_account_id,
            to_account=to_account,
            amount=data.amount,
            metadata={"to": to_key, "public": data.public},
        )

    tx = await accounts.debit(session, tenant_id, sender.user_id, sender.wallet_account_id, move)
    if tx.replayed:  # the same key already paid (a retry that got past the request layer)
        earlier = await repo.payment_by_key(session, tenant_id, sender.user_id, key)
        if earlier is None or (earlier.memo, earlier.public) != (data.memo, data.public):
            raise IdempotencyKeyReused()
        return SentPayment(**{c: getattr(earlier, c) for c in PAYMENT_COLUMNS})
    payment = SentPayment(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        sender_id=sender.user_id,
        recipient_id=recipient.user_id,
        sender_username=sender.username,
        recipient_username=recipient.username,
        amount=data.amount,
        memo=data.memo,
        public=data.public,
        ledger_tx_id=tx.id,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    notify = None
    if data.public:
        notify = (feed.CHANNEL, feed.payload(tenant_id, feed_item(payment, config)))
    await p2p.insert_payment(conn, vars(payment), notify)
    fact = PaymentFact(sender.user_id, recipient.user_id, data.amount, data.public, now)
    created = {sender.user_id: sender.created_at, recipient.user_id: recipient.created_at}
    findings = fraud.findings_for_send(config, facts, fact, created, now)
    if findings:
        await fraud.record(session, tenant_id, findings)
    return payment


def feed_item(payment: Payment | SentPayment, config: PayaConfig) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": str(payment.id),
        "sender": payment.sender_username,
        "recipient": payment.recipient_username,
        "memo": payment.memo,
        "created_at": payment.created_at.isoformat(),
    }
    if config.feed_show_amounts:
        item["amount"] = payment.amount
    return item
