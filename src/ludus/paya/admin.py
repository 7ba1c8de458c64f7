"""Admin actions from the spec, each audited: freeze, unfreeze, flag, resolve a flag, mark
ineligible for rewards, transaction history, balance adjustment, compliance report (CSV)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.audit import service as audit
from ludus.core.events.service import emit
from ludus.core.kit import clock
from ludus.core.kit.errors import NotFound, error_code
from ludus.core.ledger import service as ledger
from ludus.core.ledger.models import LedgerTransaction
from ludus.paya import accounts, usernames
from ludus.paya import repository as repo
from ludus.paya.models import Flag, Movement, Payment, Profile, Revenue
from ludus.paya.rewards import week_start

AlreadyInState = error_code(409, "PAYA_ACCOUNT_STATE", "The account is already in that state.")
BadRange = error_code(422, "BAD_DATE_RANGE", "The end must be after the start (at most 366 days).")


async def account(session: AsyncSession, tenant_id: uuid.UUID, username: str) -> Profile:
    profile = await repo.profile_by_username(session, tenant_id, usernames.normalize(username))
    if profile is None:
        raise NotFound("No member has this username.", details={"username": username})
    return profile


def _state(profile: Profile) -> dict[str, Any]:
    return {
        "status": profile.status,
        "frozen_reason": profile.frozen_reason,
        "ineligible_until": profile.ineligible_until.isoformat()
        if profile.ineligible_until
        else None,
    }


async def _audit(
    session: AsyncSession,
    action: str,
    profile: Profile,
    actor: uuid.UUID | None,
    before: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session, action=f"paya.account.{action}", tenant_id=profile.tenant_id,
        actor_user_id=actor, target_type="paya_profile", target_id=profile.user_id,
        before=before, after={**_state(profile), **(extra or {})},
    )  # fmt: skip
    await emit(
        session, event_type=f"paya.account.{action}", tenant_id=profile.tenant_id,
        source="paya", data={"user_id": str(profile.user_id), **(extra or {})},
    )  # fmt: skip


async def set_frozen(
    session: AsyncSession, profile: Profile, frozen: bool, reason: str, actor: uuid.UUID | None
) -> Profile:
    if (profile.status == "frozen") == frozen:
        raise AlreadyInState(details={"status": profile.status})
    before = _state(profile)
    profile.status = "frozen" if frozen else "active"
    profile.frozen_reason = reason if frozen else None
    await session.flush()
    await _audit(session, "frozen" if frozen else "unfrozen", profile, actor, before,
                 {"reason": reason})  # fmt: skip
    return profile


async def flag(session: AsyncSession, profile: Profile, reason: str, actor: uuid.UUID) -> Flag:
    row = Flag(
        id=uuid.uuid4(), tenant_id=profile.tenant_id, user_id=profile.user_id,
        rule="manual_review", source="admin", reason=reason, details={"by": str(actor)},
        created_at=clock.utcnow(),
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await _audit(session, "flagged", profile, actor, _state(profile),
                 {"reason": reason, "flag_id": str(row.id)})  # fmt: skip
    return row


async def resolve_flag(
    session: AsyncSession, tenant_id: uuid.UUID, flag_id: uuid.UUID, reason: str, actor: uuid.UUID
) -> Flag:
    row = (
        await session.execute(select(Flag).where(Flag.tenant_id == tenant_id, Flag.id == flag_id))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("Flag not found.", details={"id": str(flag_id)})
    if row.resolved_at is not None:
        raise AlreadyInState(details={"resolved_at": row.resolved_at.isoformat()})
    row.resolved_at = clock.utcnow()
    row.resolved_by = actor
    await session.flush()
    await audit.record(
        session, action="paya.flag.resolved", tenant_id=tenant_id, actor_user_id=actor,
        target_type="paya_flag", target_id=row.id, before={"rule": row.rule},
        after={"reason": reason},
    )  # fmt: skip
    return row


async def mark_ineligible(
    session: AsyncSession, profile: Profile, weeks: int, reason: str, actor: uuid.UUID
) -> Profile:
    """No rewards for this week and the next `weeks - 1` weeks."""
    before = _state(profile)
    profile.ineligible_until = week_start(clock.utcnow().date()) + timedelta(weeks=weeks)
    await session.flush()
    await _audit(session, "ineligible", profile, actor, before, {"weeks": weeks, "reason": reason})
    return profile


async def adjust(
    session: AsyncSession, profile: Profile, amount: int, reason: str, actor: uuid.UUID, key: str
) -> uuid.UUID:
    """Credit (+) or debit (-) a wallet against the ops account: never mints or burns."""
    accts = await accounts.tenant_accounts(session, profile.tenant_id)
    source, target = (accts.ops, profile.wallet_account_id)
    if amount < 0:
        source, target = target, source

    def move() -> Awaitable[LedgerTransaction]:
        return ledger.move(
            session,
            tenant_id=profile.tenant_id,
            idempotency_key=f"paya:adjust:{key}",
            kind="paya.adjustment",
            from_account=source,
            to_account=target,
            amount=abs(amount),
            metadata={"reason": reason, "by": str(actor), "user_id": str(profile.user_id)},
        )

    if amount < 0:  # a debit may need what waits in a hot member's incoming account
        wallet = profile.wallet_account_id
        tx = await accounts.debit(session, profile.tenant_id, profile.user_id, wallet, move)
    else:
        tx = await move()
    await _audit(session, "adjusted", profile, actor, _state(profile),
                 {"amount": amount, "reason": reason, "transaction_id": str(tx.id)})  # fmt: skip
    return tx.id


async def compliance_report(
    session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime, actor: uuid.UUID
) -> str:
    """Every payment, load/redeem, flag and revenue entry in [start, end) as CSV."""
    if end <= start or end - start > timedelta(days=366):
        raise BadRange(details={"start": start.isoformat(), "end": end.isoformat()})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["record", "id", "at", "user", "counterparty", "amount", "status", "detail"])
    names = {p.user_id: p.username for p in await repo.all_profiles(session, tenant_id)}

    def rows_of(model: Any, stamp: Any) -> Any:
        return select(model).where(model.tenant_id == tenant_id, stamp >= start, stamp < end)

    payments: list[Payment] = list(
        (await session.execute(rows_of(Payment, Payment.created_at))).scalars()
    )
    movements: list[Movement] = list(
        (await session.execute(rows_of(Movement, Movement.created_at))).scalars()
    )
    flags: list[Flag] = list((await session.execute(rows_of(Flag, Flag.created_at))).scalars())
    revenue: list[Revenue] = list(
        (await session.execute(rows_of(Revenue, Revenue.created_at))).scalars()
    )
    for p in payments:
        writer.writerow(["payment", p.id, p.created_at.isoformat(), p.sender_username,
                         p.recipient_username, p.amount, "public" if p.public else "private",
                         p.memo])  # fmt: skip
    for m in movements:
        writer.writerow([m.kind, m.id, m.created_at.isoformat(), names.get(m.user_id, m.user_id),
                         "", m.amount, m.status, m.last_error or ""])  # fmt: skip
    for f in flags:
        state = "resolved" if f.resolved_at else "open"
        writer.writerow(["flag", f.id, f.created_at.isoformat(), names.get(f.user_id, f.user_id),
                         "", "", state, f"{f.rule}: {f.reason}"])  # fmt: skip
    for r in revenue:
        writer.writerow(["revenue", r.id, r.created_at.isoformat(), "", "", r.amount,
                         r.week_start.isoformat(), r.source])  # fmt: skip
    await audit.record(
        session, action="paya.compliance_report", tenant_id=tenant_id, actor_user_id=actor,
        target_type="paya_report", after={"start": start.isoformat(), "end": end.isoformat()},
    )  # fmt: skip
    return out.getvalue()
