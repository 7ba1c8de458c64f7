"""Bank linking (Plaid), loads and redeems (Dwolla ACH).

Load:   request → movement `queued` + ledger HOLD reserve → wallet (tokens pending)
        → ACH pull started (`pending`) → processed: POST the hold (`settled`)
                                        → failed/returned: VOID the hold.
Redeem: request → movement `queued` + wallet → clearing (tokens no longer spendable)
        → ACH push started: clearing → reserve (tokens burned, `pending`) → processed: `settled`
                                        → failed/returned: both entries reversed (restored).
Provider calls happen in jobs, never in the request, behind a per-provider circuit breaker:
while Dwolla is failing, movements stay `queued` and are retried with backoff; P2P does not
touch the providers at all, so it keeps working.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.events.service import emit
from ludus.core.jobs.defer import defer
from ludus.core.kit import clock, crypto
from ludus.core.kit.errors import error_code
from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import AccountFrozen, LedgerError
from ludus.paya import accounts, fraud
from ludus.paya import repository as repo
from ludus.paya.adapters import providers
from ludus.paya.adapters.base import ProviderRejected, ProviderUnavailable, TransferStatus
from ludus.paya.config import get_paya_settings
from ludus.paya.models import BankLink, Movement, Profile
from ludus.paya.rules import Finding
from ludus.paya.service import require_profile

ProviderDown = error_code(
    503, "PROVIDER_UNAVAILABLE", "Bank linking is temporarily unavailable; try again shortly."
)
ProviderRefused = error_code(422, "PROVIDER_REJECTED", "The bank provider refused the request.")
BankLinkRequired = error_code(409, "BANK_LINK_REQUIRED", "Link a bank account first.")
LoadLimit = error_code(422, "LOAD_LIMIT_EXCEEDED", "This load is over your load limit.")
RedeemNotYet = error_code(
    403, "REDEEM_NOT_YET_ALLOWED", "New accounts cannot redeem during their first days."
)
PROCESS_TASK = "paya.process_movement"
TOKEN_PURPOSE = "paya.plaid_access_token"
SOURCE = "paya"


async def link_token(user_id: uuid.UUID) -> str:
    p = providers()
    try:
        return await p.plaid_breaker.call(lambda: p.plaid.create_link_token(str(user_id)))
    except ProviderUnavailable as exc:
        raise ProviderDown(details={"provider": "plaid"}) from exc
    except ProviderRejected as exc:
        raise ProviderRefused(details={"provider": "plaid", "code": exc.code}) from exc


async def link_bank(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    public_token: str,
    account_id: str | None,
) -> BankLink:
    """Exchange Plaid's public token, read the account and owner, and (if Dwolla is up)
    create the Dwolla funding source; otherwise the retry job finishes that part."""
    profile = await require_profile(session, tenant_id, user_id)
    p = providers()
    try:
        exchanged = await p.plaid_breaker.call(lambda: p.plaid.exchange_public_token(public_token))
        found = await p.plaid_breaker.call(lambda: p.plaid.get_accounts(exchanged.access_token))
        identity = await p.plaid_breaker.call(lambda: p.plaid.get_identity(exchanged.access_token))
    except ProviderUnavailable as exc:
        raise ProviderDown(details={"provider": "plaid"}) from exc
    except ProviderRejected as exc:
        raise ProviderRefused(details={"provider": "plaid", "code": exc.code}) from exc
    chosen = next((a for a in found if account_id in (None, a.account_id)), None)
    if chosen is None:
        raise ProviderRefused("No such account at this bank.", details={"account_id": account_id})
    link = BankLink(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        user_id=user_id,
        item_id=exchanged.item_id,
        access_token_enc=crypto.encrypt(exchanged.access_token, purpose=TOKEN_PURPOSE),
        account_id=chosen.account_id,
        account_name=chosen.name,
        mask=chosen.mask,
        owner_names=identity.names,
        status="pending_funding_source",
    )
    session.add(link)
    await session.flush()
    try:
        await ensure_funding_source(session, profile, link)
    except ProviderUnavailable:
        link.status = "pending_funding_source"  # the retry job finishes it once Dwolla is back
    except ProviderRejected as exc:
        raise ProviderRefused(details={"provider": "dwolla", "code": exc.code}) from exc
    return link


async def ensure_funding_source(session: AsyncSession, profile: Profile, link: BankLink) -> str:
    if link.funding_source_id is not None:
        return link.funding_source_id
    p = providers()
    if profile.dwolla_customer_id is None:
        first, _, last = profile.display_name.partition(" ")
        profile.dwolla_customer_id = await p.dwolla_breaker.call(
            lambda: p.dwolla.create_customer(
                first_name=first or profile.username,
                last_name=last or profile.username,
                email=f"{profile.user_id}@paya.invalid",
                correlation_id=str(profile.user_id),
            )
        )
    access_token = crypto.decrypt(link.access_token_enc, purpose=TOKEN_PURPOSE)
    processor = await p.plaid_breaker.call(
        lambda: p.plaid.create_processor_token(access_token, link.account_id)
    )
    customer = profile.dwolla_customer_id
    link.funding_source_id = await p.dwolla_breaker.call(
        lambda: p.dwolla.create_funding_source(
            customer, processor_token=processor, name=link.account_name
        )
    )
    link.status = "linked"
    await session.flush()
    return link.funding_source_id


async def _start(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    amount: int,
    bank_link_id: uuid.UUID | None,
    key: str | None,
) -> tuple[Profile, Movement | None, BankLink]:
    profile = await require_profile(session, tenant_id, user_id, lock=True)
    if profile.status == "frozen":
        raise AccountFrozen(details={"username": profile.username})
    if key is not None:
        earlier = await repo.movement_by_key(session, tenant_id, user_id, key)
        if earlier is not None:
            return profile, earlier, await _link_of(session, earlier)
    link = await repo.bank_link(session, tenant_id, user_id, bank_link_id)
    if link is None:
        raise BankLinkRequired()
    return profile, None, link


async def _link_of(session: AsyncSession, movement: Movement) -> BankLink:
    link = await session.get(BankLink, movement.bank_link_id)
    assert link is not None
    return link


def _new_movement(
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    amount: int,
    link: BankLink,
    key: str | None,
) -> Movement:
    now = clock.utcnow()
    return Movement(
        id=uuid.uuid4(), tenant_id=tenant_id, user_id=user_id, kind=kind, amount=amount,
        status="queued", bank_link_id=link.id, attempts=0, idempotency_key=key,
        created_at=now, updated_at=now,
    )  # fmt: skip


async def request_load(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: int,
    bank_link_id: uuid.UUID | None,
    key: str | None,
) -> Movement:
    profile, earlier, link = await _start(
        session, tenant_id, user_id, "load", amount, bank_link_id, key
    )
    if earlier is not None:
        return earlier
    config = await accounts.rules(session, tenant_id)
    now = clock.utcnow()
    week = await repo.loaded_since(session, tenant_id, user_id, now - timedelta(days=7))
    if week + amount > config.limits.max_load_per_week:
        raise LoadLimit(
            details={"limit": "max_load_per_week", "value": config.limits.max_load_per_week}
        )
    new = config.new_account
    if now < profile.created_at + timedelta(days=new.cooling_period_days):
        first_week = await repo.loaded_since(session, tenant_id, user_id, profile.created_at)
        if first_week + amount > new.first_week_max_load:
            raise LoadLimit(
                details={"limit": "first_week_max_load", "value": new.first_week_max_load}
            )
    movement = _new_movement(tenant_id, user_id, "load", amount, link, key)
    session.add(movement)
    await session.flush()
    held = await ledger.hold(
        session,
        tenant_id=tenant_id,
        idempotency_key=f"paya:load:{movement.id}",
        kind="paya.load",
        from_account=(await accounts.tenant_accounts(session, tenant_id)).reserve,
        to_account=profile.wallet_account_id,
        amount=amount,
        metadata={"movement_id": str(movement.id)},
    )
    movement.hold_id = held.id
    await defer(session, PROCESS_TASK, args={"movement_id": str(movement.id)})
    return movement


async def request_redeem(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    amount: int,
    bank_link_id: uuid.UUID | None,
    key: str | None,
) -> Movement:
    profile, earlier, link = await _start(
        session, tenant_id, user_id, "redeem", amount, bank_link_id, key
    )
    if earlier is not None:
        return earlier
    config = await accounts.rules(session, tenant_id)
    allowed_from = profile.created_at + timedelta(days=config.new_account.no_redeem_days)
    if clock.utcnow() < allowed_from:
        raise RedeemNotYet(details={"allowed_from": allowed_from.isoformat()})
    movement = _new_movement(tenant_id, user_id, "redeem", amount, link, key)
    session.add(movement)
    await session.flush()
    clearing = (await accounts.tenant_accounts(session, tenant_id)).clearing
    locked = await accounts.debit(
        session,
        tenant_id,
        user_id,
        profile.wallet_account_id,
        lambda: ledger.move(
            session,
            tenant_id=tenant_id,
            idempotency_key=f"paya:redeem-lock:{movement.id}",
            kind="paya.redeem.requested",
            from_account=profile.wallet_account_id,
            to_account=clearing,
            amount=amount,
            metadata={"movement_id": str(movement.id)},
        ),
    )
    movement.lock_tx_id = locked.id
    await defer(session, PROCESS_TASK, args={"movement_id": str(movement.id)})
    return movement


def _backoff(attempts: int) -> timedelta:
    base = get_paya_settings().retry_backoff_seconds
    return timedelta(seconds=base * min(2 ** max(attempts - 1, 0), 16))


async def advance(session: AsyncSession, movement: Movement, *, webhook: bool = False) -> None:
    """Move one (locked) movement forward: start its ACH transfer, or check on it."""
    if movement.status == "queued":
        await _initiate(session, movement)
    elif movement.status == "pending" or (webhook and movement.status == "settled"):
        await _check(session, movement)


async def _initiate(session: AsyncSession, m: Movement) -> None:
    p = providers()
    link = await _link_of(session, m)
    profile = await require_profile(session, m.tenant_id, m.user_id)
    m.attempts += 1
    try:
        funding = await ensure_funding_source(session, profile, link)
        source, target = (funding, p.dwolla.fbo_funding_source)
        if m.kind == "redeem":
            source, target = target, source
        m.provider_transfer_id = await p.dwolla_breaker.call(
            lambda: p.dwolla.initiate_transfer(
                source=source, destination=target, amount=m.amount, idempotency_key=f"paya-{m.id}"
            )
        )
    except ProviderUnavailable as exc:
        m.next_attempt_at = clock.utcnow() + _backoff(m.attempts)
        m.last_error = str(exc)[:500]
        return
    except ProviderRejected as exc:
        await _fail(session, m, "failed", f"{exc.code}: {exc}")
        return
    m.status = "pending"
    m.last_error = None
    m.next_attempt_at = clock.utcnow() + timedelta(seconds=get_paya_settings().poll_seconds)
    if m.kind == "redeem":
        accts = await accounts.tenant_accounts(session, m.tenant_id)
        burned = await ledger.move(
            session,
            tenant_id=m.tenant_id,
            idempotency_key=f"paya:redeem-burn:{m.id}",
            kind="paya.redeem.burn",
            from_account=accts.clearing,
            to_account=accts.reserve,
            amount=m.amount,
            metadata={"movement_id": str(m.id), "transfer_id": m.provider_transfer_id},
        )
        m.ledger_tx_id = burned.id


async def _check(session: AsyncSession, m: Movement) -> None:
    p = providers()
    transfer_id = m.provider_transfer_id
    assert transfer_id is not None
    try:
        status = await p.dwolla_breaker.call(lambda: p.dwolla.get_transfer_status(transfer_id))
    except (ProviderUnavailable, ProviderRejected) as exc:
        m.next_attempt_at = clock.utcnow() + _backoff(m.attempts)
        m.last_error = str(exc)[:500]
        return
    if status == TransferStatus.pending:
        m.next_attempt_at = clock.utcnow() + timedelta(seconds=get_paya_settings().poll_seconds)
        return
    if m.status == "settled":
        if not status.succeeded and m.kind == "load":
            await _claw_back(session, m, status)
        return
    if status.succeeded:
        if m.kind == "load":
            assert m.hold_id is not None
            posted = await ledger.post_hold(
                session, tenant_id=m.tenant_id, hold_id=m.hold_id,
                idempotency_key=f"paya:load-post:{m.id}",
            )  # fmt: skip
            m.ledger_tx_id = posted.id
        m.status = "settled"
        m.finished_at = clock.utcnow()
        m.next_attempt_at = None
        await _announce(session, m)
        return
    await _fail(session, m, "returned" if status == TransferStatus.returned else "failed",
                f"ACH transfer {status.value}")  # fmt: skip


async def _fail(session: AsyncSession, m: Movement, status: str, reason: str) -> None:
    if m.kind == "load" and m.hold_id is not None:
        await ledger.void_hold(session, tenant_id=m.tenant_id, hold_id=m.hold_id, reason=reason)
    if m.kind == "redeem":
        if m.ledger_tx_id is not None:
            await ledger.reverse(
                session, tenant_id=m.tenant_id, transaction_id=m.ledger_tx_id,
                idempotency_key=f"paya:redeem-unburn:{m.id}", reason=reason,
            )  # fmt: skip
        if m.lock_tx_id is not None:
            await ledger.reverse(
                session, tenant_id=m.tenant_id, transaction_id=m.lock_tx_id,
                idempotency_key=f"paya:redeem-restore:{m.id}", reason=reason,
            )  # fmt: skip
    m.status = status
    m.last_error = reason[:500]
    m.finished_at = clock.utcnow()
    m.next_attempt_at = None
    await _announce(session, m)


async def _claw_back(session: AsyncSession, m: Movement, status: TransferStatus) -> None:
    """An ACH return after settlement: take the tokens back, or freeze and flag if spent."""
    assert m.ledger_tx_id is not None
    tx_id = m.ledger_tx_id
    profile = await require_profile(session, m.tenant_id, m.user_id)
    try:
        await accounts.debit(
            session, m.tenant_id, m.user_id, profile.wallet_account_id,
            lambda: ledger.reverse(
                session, tenant_id=m.tenant_id, transaction_id=tx_id,
                idempotency_key=f"paya:load-return:{m.id}", reason=f"ACH {status.value}",
            ),
        )  # fmt: skip
    except LedgerError:
        profile.status = "frozen"
        profile.frozen_reason = "ACH return after the tokens were spent"
        finding = Finding(m.user_id, "ach_return_unrecovered", profile.frozen_reason,
                          {"movement_id": str(m.id), "amount": m.amount})  # fmt: skip
        await fraud.record(session, m.tenant_id, [finding])
        m.last_error = "returned after settlement; tokens not recovered"
    m.status = "returned"
    m.finished_at = clock.utcnow()
    await _announce(session, m)


async def _announce(session: AsyncSession, m: Movement) -> None:
    await emit(
        session,
        event_type=f"paya.{m.kind}.{m.status}",
        tenant_id=m.tenant_id,
        source=SOURCE,
        data={"movement_id": str(m.id), "user_id": str(m.user_id), "amount": m.amount},
    )
