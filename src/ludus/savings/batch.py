"""Turn a batch of stored callbacks into deposits, in the drain job's transaction.

Per batch, not per callback: one query finds every member the batch names, one insert
records the deposits (the unique receipt is the exactly-once gate), each new deposit gets
its own ledger transaction (idempotency key per receipt), then challenge progress and
badges are applied once for the batch and member messages are left to a job.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock, driver
from ludus.core.ledger.errors import BY_CODE, LedgerError
from ludus.core.ledger.transfer import check_entries, digest
from ludus.core.tenancy.models import Tenant
from ludus.savings import live
from ludus.savings.models import (
    CallbackKind,
    CallbackStatus,
    Deposit,
    DepositStatus,
    Member,
    MemberStatus,
    MpesaCallback,
    SavingsOrg,
    StkRequest,
    StkStatus,
)
from ludus.savings.mpesa.base import StkCallback, StkResult, parse_c2b, parse_stk
from ludus.savings.phones import normalize_phone

STK_STATUS = {
    StkResult.success: StkStatus.succeeded,
    StkResult.cancelled: StkStatus.cancelled,
    StkResult.timeout: StkStatus.timeout,
}


@dataclass(frozen=True)
class Payment:
    receipt: str
    amount: int
    source: str  # c2b | stk
    transacted_at: datetime
    msisdn: str | None
    bill_ref: str | None
    checkout_request_id: str | None = None
    member_id: uuid.UUID | None = None  # STK: the member who initiated it
    phone: str | None = None  # STK without initiation: match by phone


def reference_key(reference: str | None) -> str:
    return "".join((reference or "").split()).upper()


def _parse(cb: Stored) -> Payment | StkCallback | None:
    payload = orjson.loads(cb.raw_body)
    if cb.kind == CallbackKind.c2b_confirmation:
        c2b = parse_c2b(payload)
        return Payment(c2b.trans_id, c2b.amount, "c2b", c2b.transacted_at, c2b.msisdn, c2b.bill_ref)
    if cb.kind == CallbackKind.stk_result:
        return parse_stk(payload)
    return None  # validation requests carry no money


async def _stk_payments(
    session: AsyncSession, tenant_id: uuid.UUID, results: list[StkCallback]
) -> list[Payment]:
    """Record each STK outcome on its initiation row; successful ones become payments."""
    if not results:
        return []
    rows = await session.execute(
        select(StkRequest).where(
            StkRequest.tenant_id == tenant_id,
            StkRequest.checkout_request_id.in_([r.checkout_request_id for r in results]),
        )
    )
    requests = {r.checkout_request_id: r for r in rows.scalars()}
    out = []
    for cb in results:
        request = requests.get(cb.checkout_request_id)
        if request is not None:
            request.status = STK_STATUS.get(cb.result_code, StkStatus.failed)  # type: ignore[call-overload]
            request.result_code = cb.result_code
            request.result_desc = cb.result_desc
            request.receipt = cb.receipt
        if cb.result_code != StkResult.success or cb.receipt is None or cb.amount is None:
            continue
        # A callback that beat its initiation record (or has none) is matched by phone.
        by_request = request is not None and request.member_id is not None
        out.append(
            Payment(
                cb.receipt,
                cb.amount,
                "stk",
                cb.transacted_at or clock.utcnow(),
                cb.phone,
                None,
                cb.checkout_request_id,
                member_id=request.member_id if request is not None and by_request else None,
                phone=None if by_request else normalize_phone(cb.phone or ""),
            )
        )
    return out


@dataclass(frozen=True)
class Payer:
    """What a deposit needs of its member (read straight from the driver)."""

    id: uuid.UUID
    user_id: uuid.UUID
    account_ref: str
    phone: str
    status: str
    savings_account_id: uuid.UUID | None


_MEMBERS = (
    "SELECT id, user_id, account_ref, phone, status, savings_account_id"
    f" FROM {Member.__tablename__} WHERE tenant_id = %(t)s"
    " AND (account_ref = ANY(%(refs)s) OR phone = ANY(%(phones)s) OR id = ANY(%(ids)s))"
)


async def _members(
    session: AsyncSession, tenant_id: uuid.UUID, payments: list[Payment]
) -> list[Payer | None]:
    """Each payment's member in one query: STK initiator, else account reference, else the
    reference read as a phone number (C2B) or the paying phone (STK without initiation)."""
    refs = {reference_key(p.bill_ref) for p in payments if p.source == "c2b"} - {""}
    phones = {normalize_phone(r) for r in refs} | {p.phone for p in payments}
    ids = {p.member_id for p in payments if p.member_id is not None}
    params = {"t": tenant_id, "refs": list(refs), "phones": [p for p in phones if p],
              "ids": list(ids)}  # fmt: skip
    found = [Payer(*row) for row in await driver.fetch(session, _MEMBERS, params)]
    by_ref = {m.account_ref: m for m in found}
    by_phone = {m.phone: m for m in found}
    by_id = {m.id: m for m in found}
    out: list[Payer | None] = []
    for p in payments:
        if p.member_id is not None:
            member = by_id.get(p.member_id)
        elif p.source == "c2b":
            ref = reference_key(p.bill_ref)
            member = by_ref.get(ref) or by_phone.get(normalize_phone(ref) or "") if ref else None
        else:
            member = by_phone.get(p.phone or "")
        # A deactivated member's money waits in suspense for an admin to decide.
        active = member is not None and member.status == MemberStatus.active.name
        out.append(member if active else None)
    return out


class Stored(Protocol):
    """A stored callback as the drain claims it (an `MpesaCallback` row will do)."""

    @property
    def kind(self) -> str: ...
    @property
    def raw_body(self) -> bytes: ...


async def record(
    session: AsyncSession, org: SavingsOrg, tenant: Tenant, callbacks: Sequence[Stored]
) -> live.Outcome:
    """Process claimed callbacks (the caller marks them processed and commits)."""
    parsed = [_parse(cb) for cb in callbacks]
    payments = [p for p in parsed if isinstance(p, Payment)]
    stk = [p for p in parsed if isinstance(p, StkCallback)]
    payments += await _stk_payments(session, org.tenant_id, stk)
    unique: dict[str, Payment] = {}
    for p in payments:  # the C2B and STK reports of one payment count once
        kept = unique.setdefault(p.receipt, p)
        if kept is not p and p.checkout_request_id and not kept.checkout_request_id:
            unique[p.receipt] = replace(kept, checkout_request_id=p.checkout_request_id)
    payments = list(unique.values())
    if not payments:
        await session.flush()
        return live.Outcome()
    members = await _members(session, org.tenant_id, payments)
    rows = [_deposit_row(org.tenant_id, p, m) for p, m in zip(payments, members, strict=True)]
    inserted = await driver.fetch(session, _INSERT_DEPOSITS, {"rows": live.as_json(rows)})
    new = {r[0] for r in inserted}
    fresh = [
        (row, payment, member)
        for row, payment, member in zip(rows, payments, members, strict=True)
        if row["id"] in new  # else this receipt was recorded by an earlier batch
    ]
    for row, p in zip(rows, payments, strict=True):
        if row["id"] not in new and p.checkout_request_id:
            # Known receipt (its C2B report came first): note the STK request on it too, so
            # a later initiation or the reconciliation finds the deposit.
            await session.execute(
                update(Deposit)
                .where(Deposit.tenant_id == org.tenant_id, Deposit.receipt == p.receipt,
                       Deposit.checkout_request_id.is_(None))
                .values(checkout_request_id=p.checkout_request_id)
            )  # fmt: skip
    if fresh:
        await _post(session, org, [(row["id"], p, m) for row, p, m in fresh])
    credits = [
        live.Credit(member, row["id"], payment.amount, payment.transacted_at)
        for row, payment, member in fresh
        if member is not None
    ]
    return await live.apply(session, tenant, credits)


def _deposit_row(tenant_id: uuid.UUID, p: Payment, member: Payer | None) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "receipt": p.receipt,
        "member_id": member.id if member else None,
        "amount": p.amount,
        "source": p.source,
        "status": (DepositStatus.verified if member else DepositStatus.suspense).name,
        "msisdn": p.msisdn,
        "bill_ref": p.bill_ref,
        "checkout_request_id": p.checkout_request_id,
        "transacted_at": p.transacted_at,
    }


_DEPOSIT_COLUMNS = (
    "id, tenant_id, receipt, member_id, amount, source, status, msisdn, bill_ref,"
    " checkout_request_id, transacted_at"
)
# One statement for the batch's deposits; the unique receipt is the exactly-once gate.
_INSERT_DEPOSITS = (
    f"INSERT INTO {Deposit.__tablename__} ({_DEPOSIT_COLUMNS}) SELECT {_DEPOSIT_COLUMNS}"
    f" FROM json_populate_recordset(NULL::{Deposit.__tablename__}, %(rows)s::json)"
    " ON CONFLICT ON CONSTRAINT uq_savings_deposits_tenant_id_receipt DO NOTHING RETURNING id"
)

# One round trip for the batch: `ledger_transfer` (the ledger's single write path, which
# checks and balances every transaction) once per deposit, each with its own idempotency
# key and the request hash `ledger.move` would send, so a replay through either matches;
# the same statement stores each deposit's transaction id.
_POST_MANY = (
    "WITH posted AS MATERIALIZED (SELECT d.n, d.deposit, t.err, t.detail, t.tx_id"
    " FROM json_to_recordset(%(rows)s::json) AS d(n int, deposit uuid, key text, kind text,"
    " meta jsonb, hash text, src uuid, dst uuid, amount bigint)"
    " CROSS JOIN LATERAL ledger_transfer(%(tenant)s::uuid, d.key, d.kind, d.meta, d.hash,"
    " ARRAY[d.src, d.dst], ARRAY[-d.amount, d.amount]) AS t),"
    f" stored AS (UPDATE {Deposit.__tablename__} AS s SET ledger_tx_id = p.tx_id,"
    " updated_at = now() FROM posted AS p WHERE s.id = p.deposit AND p.tx_id IS NOT NULL)"
    " SELECT err, detail, tx_id FROM posted ORDER BY n"
)


async def _post(
    session: AsyncSession,
    org: SavingsOrg,
    payments: list[tuple[uuid.UUID, Payment, Payer | None]],
) -> list[uuid.UUID]:
    """Clearing → member savings (or suspense): one ledger transaction per receipt, its id
    stored on the deposit."""
    assert org.clearing_account_id and org.suspense_account_id
    params: list[dict[str, Any]] = []
    for n, (deposit_id, payment, member) in enumerate(payments):
        target = member.savings_account_id if member else org.suspense_account_id
        assert target is not None
        kind = "savings.deposit" if member else "savings.deposit_suspense"
        entries = check_entries(
            [(org.clearing_account_id, -payment.amount), (target, payment.amount)]
        )
        params.append(
            {
                "n": n,
                "deposit": deposit_id,
                "key": f"savings:deposit:{payment.receipt}",
                "kind": kind,
                "meta": {"receipt": payment.receipt, "source": payment.source},
                "hash": digest(kind, entries),
                "src": org.clearing_account_id,
                "dst": target,
                "amount": payment.amount,
            }
        )
    rows = await driver.fetch(
        session, _POST_MANY, {"tenant": org.tenant_id, "rows": live.as_json(params)}
    )
    for row in rows:
        if row.err is not None:
            raise BY_CODE.get(row.err, LedgerError)(details=row.detail or {})
    return [row.tx_id for row in rows]


async def mark(
    session: AsyncSession, ids: list[uuid.UUID], status: CallbackStatus, error: str | None = None
) -> None:
    await session.execute(
        update(MpesaCallback)
        .where(MpesaCallback.id.in_(ids))
        .values(status=status, error=error, processed_at=func.now())
    )
