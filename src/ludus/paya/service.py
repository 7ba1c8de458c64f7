"""Profiles (@usernames) and P2P transfers.

A transfer locks the sender's profile row first, so the sender's limit checks and the
debit are serialized (200 concurrent sends cannot overspend or slip past a limit); the
ledger then locks both wallets in id order. The feed NOTIFY is sent in the same
transaction, so it is delivered only if the transfer commits. All of it is one SQL call
(`paya_send`, see p2p.py).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.auth.models import User
from ludus.core.kit import clock
from ludus.core.kit.errors import ConcurrentUpdate, IdempotencyKeyReused, error_code
from ludus.core.ledger.errors import BY_CODE, AccountFrozen, InsufficientFunds, LedgerError
from ludus.core.ledger.transfer import MAX_ATTEMPTS, check_key
from ludus.paya import accounts, feed, fraud, p2p, usernames
from ludus.paya import repository as repo
from ludus.paya.config import PayaConfig
from ludus.paya.models import Payment, Profile
from ludus.paya.p2p import SentPayment
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


async def send(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    sender_user_id: uuid.UUID,
    data: TransferCreate,
    idempotency_key: str | None,
) -> SentPayment:
    """Pay @username: one `paya_send` call (lock, limits and fraud facts, ledger transfer,
    payment insert and feed NOTIFY) in steady state; flags are written only when a rule
    fires for the first time. Payments to a hot recipient are credited to its sharded
    incoming account (accounts.py). Limits are rolling windows, checked by the call."""
    config = await accounts.rules(session, tenant_id)
    if len(data.memo) > config.limits.max_memo_length:
        raise MemoTooLong(details={"max_length": config.limits.max_memo_length})
    to_key = usernames.normalize(data.to)
    key = idempotency_key or uuid.uuid4().hex
    ledger_key = check_key(f"paya:p2p:{sender_user_id}:{key}", "idempotency_key", 255)
    now = clock.utcnow()
    payment_id = uuid.uuid4()
    swept = False
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = await p2p.send(
            session, tenant_id, payment_id=payment_id, sender_id=sender_user_id,
            recipient_key=to_key, amount=data.amount, memo=data.memo, public=data.public,
            hot=to_key in config.hot_recipients, kind=P2P_KIND, ledger_key=ledger_key,
            idempotency_key=idempotency_key, channel=feed.CHANNEL, config=config, now=now,
        )  # fmt: skip
        outcome = result.outcome
        if outcome == p2p.NO_INCOMING:  # a hot recipient's first payment: open its account
            assert result.recipient_id is not None
            await accounts.incoming_account(session, tenant_id, result.recipient_id, create=True)
            continue
        if outcome != p2p.LEDGER:
            break
        code = result.detail.get("code")
        if code == "RETRY" and attempt < MAX_ATTEMPTS:  # deadlock: only the call was undone
            await asyncio.sleep(random.uniform(0, 0.002 * attempt))
            continue
        if code == InsufficientFunds.code and not swept:
            # the wallet alone is short: sweep the incoming account into it, try once more
            assert result.sender_id is not None and result.sender_wallet is not None
            swept = True
            if await accounts.sweep_incoming(
                session, tenant_id, result.sender_id, result.sender_wallet
            ):
                continue
        break
    _raise_refusal(result, data)
    assert result.sender_id is not None and result.recipient_id is not None
    assert result.tx_id is not None and result.facts is not None
    assert result.sender_created_at is not None and result.recipient_created_at is not None
    if result.created_at is not None:  # OK: a sender's payment times never go backwards
        now = result.created_at
    if outcome == p2p.REPLAYED:  # the same key already paid (a retry past the request layer)
        earlier = await repo.payment_by_key(session, tenant_id, result.sender_id, key)
        if earlier is None or (earlier.memo, earlier.public) != (data.memo, data.public):
            raise IdempotencyKeyReused()
        return SentPayment(**{c: getattr(earlier, c) for c in PAYMENT_COLUMNS})
    payment = SentPayment(
        id=payment_id,
        tenant_id=tenant_id,
        sender_id=result.sender_id,
        recipient_id=result.recipient_id,
        sender_username=str(result.sender_username),
        recipient_username=str(result.recipient_username),
        amount=data.amount,
        memo=data.memo,
        public=data.public,
        ledger_tx_id=result.tx_id,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    fact = PaymentFact(payment.sender_id, payment.recipient_id, data.amount, data.public, now)
    created = {
        payment.sender_id: result.sender_created_at,
        payment.recipient_id: result.recipient_created_at,
    }
    findings = fraud.findings_for_send(config, result.facts, fact, created, now)
    if findings:
        await fraud.record(session, tenant_id, findings)
    return payment


def _raise_refusal(result: p2p.SendResult, data: TransferCreate) -> None:
    """The error for a send the call refused (it wrote nothing); returns for OK/REPLAYED."""
    outcome, detail = result.outcome, result.detail
    if outcome in (p2p.OK, p2p.REPLAYED):
        return
    if outcome == p2p.NO_PROFILE:
        raise ProfileRequired()
    if outcome == p2p.FROZEN:
        raise AccountFrozen(details=detail)
    if outcome == p2p.NO_RECIPIENT:
        raise RecipientNotFound(details={"to": data.to})
    if outcome == p2p.SELF:
        raise SelfTransfer()
    if outcome == p2p.LIMIT:
        raise LimitExceeded(details=detail)
    if outcome == p2p.LEDGER:
        code = detail.get("code")
        if code == "RETRY":
            raise ConcurrentUpdate(details=detail.get("detail") or {})
        raise BY_CODE.get(str(code), LedgerError)(details=detail.get("detail") or {})
    raise AssertionError(f"unexpected paya_send outcome {outcome}")


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
