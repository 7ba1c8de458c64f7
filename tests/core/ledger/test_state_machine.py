"""Property test: any sequence of ledger operations, valid or not, keeps every invariant.

A model predicts each operation's outcome (new balances, or the exact error code); after
every step the database must agree with the model and `verify()` must be clean.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import text

from ludus.core.kit import clock
from ludus.core.kit.db import Database
from ludus.core.ledger import service as ledger
from ludus.core.ledger.errors import LedgerError
from tests.core.ledger.helpers import build_world

WALLET_FUNDS = 1_000
ACCOUNTS = ("reserve", "w0", "w1", "w2", "coin")
WALLETS = ("w0", "w1", "w2")


@dataclass
class ModelHold:
    id: uuid.UUID
    src: str
    dst: str
    amount: int
    expires_at: datetime | None
    state: str = "pending"


@dataclass
class ModelTx:
    id: uuid.UUID
    entries: list[tuple[str, int]]
    reversed: bool = False


class LedgerMachine(RuleBasedStateMachine):
    runner: ClassVar[asyncio.Runner]
    db: ClassVar[Database]

    def __init__(self) -> None:
        super().__init__()
        self.tenant_id = uuid.uuid4()
        self.run(self._setup())
        self.posted = {name: 0 for name in ACCOUNTS}
        self.posted["reserve"] = -WALLET_FUNDS * 3
        for w in WALLETS:
            self.posted[w] = WALLET_FUNDS
        self.pending = dict.fromkeys(ACCOUNTS, 0)
        self.frozen: set[str] = set()
        self.asset = {name: "COIN" if name == "coin" else "USD" for name in ACCOUNTS}
        self.holds: list[ModelHold] = []
        self.txs: list[ModelTx] = []
        self.keys: dict[str, tuple[str, str, int, uuid.UUID]] = {}

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    async def _setup(self) -> None:
        async with self.db.session(system=True) as s:
            await s.execute(
                text(
                    "INSERT INTO tenants (id, slug, name, kind, status, theme, features, config,"
                    " products, default_locale, currency, timezone) VALUES (:id, :slug, 'SM',"
                    " 'bank_partner', 'active', '{}', '{}', '{}', '{}', 'en', 'USD', 'UTC')"
                ),
                {"id": self.tenant_id, "slug": f"sm-{self.tenant_id.hex[:12]}"},
            )
        async with self.db.session(tenant_id=self.tenant_id) as s:
            world = await build_world(s, self.tenant_id, wallets=3, funds=WALLET_FUNDS)
        self.ids = {
            "reserve": world.reserve,
            "w0": world.wallets[0],
            "w1": world.wallets[1],
            "w2": world.wallets[2],
            "coin": world.coin_wallet,
        }

    async def _call(self, fn: Any, **kwargs: Any) -> tuple[Any, str | None]:
        try:
            async with self.db.session(tenant_id=self.tenant_id) as s:
                return await fn(s, tenant_id=self.tenant_id, **kwargs), None
        except LedgerError as exc:
            return None, exc.code

    def call(self, expected: str | None, fn: Any, **kwargs: Any) -> Any:
        result, code = self.run(self._call(fn, **kwargs))
        assert code == expected, f"{fn.__name__}{kwargs}: expected {expected}, got {code}"
        return result

    # --- model helpers -------------------------------------------------------------------
    def available(self, name: str) -> int:
        return self.posted[name] - self.pending[name]

    def may_go_negative(self, name: str) -> bool:
        return name == "reserve"

    def entries_error(
        self, entries: list[tuple[str, int]], release: str | None = None, released: int = 0
    ) -> str | None:
        names = [n for n, _ in entries]
        if any(n in self.frozen for n in names):
            return "ACCOUNT_FROZEN"
        if len({self.asset[n] for n in names}) > 1:
            return "ASSET_MISMATCH"
        for name, amount in entries:
            room = self.available(name) + (released if name == release else 0)
            if amount < 0 and not self.may_go_negative(name) and room + amount < 0:
                return "INSUFFICIENT_FUNDS"
        return None

    def apply(self, entries: list[tuple[str, int]]) -> None:
        for name, amount in entries:
            self.posted[name] += amount

    # --- rules ---------------------------------------------------------------------------
    @rule(
        src=st.sampled_from(ACCOUNTS), dst=st.sampled_from(ACCOUNTS), amount=st.integers(-2, 1_500)
    )
    def move(self, src: str, dst: str, amount: int) -> None:
        entries = [(src, -amount), (dst, amount)]
        if amount <= 0 or src == dst:
            expected: str | None = "INVALID_AMOUNT"
        else:
            expected = self.entries_error(entries)
        key = uuid.uuid4().hex
        tx = self.call(
            expected,
            ledger.move,
            idempotency_key=key,
            kind="move",
            from_account=self.ids[src],
            to_account=self.ids[dst],
            amount=amount,
        )
        if expected is None:
            self.apply(entries)
            self.txs.append(ModelTx(tx.id, entries))
            self.keys[key] = (src, dst, amount, tx.id)

    @rule(src=st.sampled_from(WALLETS), dst=st.sampled_from(WALLETS), extra=st.integers(1, 3))
    def unbalanced(self, src: str, dst: str, extra: int) -> None:
        entries = [(self.ids[src], -10), (self.ids[dst], 10 + extra)]
        expected = (
            "INVALID_AMOUNT"
            if src == dst
            else ("ACCOUNT_FROZEN" if {src, dst} & self.frozen else "UNBALANCED")
        )
        self.call(
            expected, ledger.transfer, idempotency_key=uuid.uuid4().hex, kind="bad", entries=entries
        )

    @rule(data=st.data())
    def replay_key(self, data: st.DataObject) -> None:
        if not self.keys:
            return
        key = data.draw(st.sampled_from(sorted(self.keys)))
        src, dst, amount, tx_id = self.keys[key]
        same = data.draw(st.booleans())
        tx = self.call(
            None if same else "IDEMPOTENCY_CONFLICT",
            ledger.move,
            idempotency_key=key,
            kind="move",
            from_account=self.ids[src],
            to_account=self.ids[dst],
            amount=amount if same else amount + 1,
        )
        if same:
            assert tx.id == tx_id and tx.replayed

    @rule(
        src=st.sampled_from(ACCOUNTS),
        dst=st.sampled_from(ACCOUNTS),
        amount=st.integers(1, 1_500),
        expiring=st.booleans(),
    )
    def hold(self, src: str, dst: str, amount: int, expiring: bool) -> None:
        expires = clock.utcnow() + timedelta(seconds=60) if expiring else None
        if src == dst:
            expected: str | None = "INVALID_AMOUNT"
        elif src in self.frozen or dst in self.frozen:
            expected = "ACCOUNT_FROZEN"
        elif self.asset[src] != self.asset[dst]:
            expected = "ASSET_MISMATCH"
        elif not self.may_go_negative(src) and self.available(src) < amount:
            expected = "INSUFFICIENT_FUNDS"
        else:
            expected = None
        held = self.call(
            expected,
            ledger.hold,
            idempotency_key=uuid.uuid4().hex,
            kind="hold",
            from_account=self.ids[src],
            to_account=self.ids[dst],
            amount=amount,
            expires_at=expires,
        )
        if expected is None:
            self.pending[src] += amount
            self.holds.append(ModelHold(held.id, src, dst, amount, expires))

    @rule(data=st.data())
    def post(self, data: st.DataObject) -> None:
        if not self.holds:
            return
        h = data.draw(st.sampled_from(self.holds))
        amount = data.draw(st.one_of(st.none(), st.integers(-1, h.amount + 2)))
        value = h.amount if amount is None else amount
        entries = [(h.src, -value), (h.dst, value)]
        if h.state == "posted":
            expected: str | None = None
        elif h.state != "pending":
            expected = "HOLD_NOT_PENDING"
        elif h.expires_at is not None and h.expires_at <= clock.utcnow():
            expected = "HOLD_EXPIRED"
        elif value <= 0 or value > h.amount:
            expected = "INVALID_AMOUNT"
        else:
            expected = self.entries_error(entries, release=h.src, released=h.amount)
        tx = self.call(expected, ledger.post_hold, hold_id=h.id, amount=amount)
        if expected is None and h.state == "pending":
            self.apply(entries)
            self.pending[h.src] -= h.amount
            h.state = "posted"
            self.txs.append(ModelTx(tx.id, entries))

    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        if not self.holds:
            return
        h = data.draw(st.sampled_from(self.holds))
        expected = None if h.state == "pending" else "HOLD_NOT_PENDING"
        self.call(expected, ledger.void_hold, hold_id=h.id, reason="test")
        if expected is None:
            self.pending[h.src] -= h.amount
            h.state = "voided"

    @rule(seconds=st.sampled_from([20, 45, 70]))
    def expire(self, seconds: int) -> None:
        clock.advance(seconds)
        now = clock.utcnow()
        due = [
            h
            for h in self.holds
            if h.state == "pending" and h.expires_at is not None and h.expires_at <= now
        ]
        count = self.run(self._expire())
        assert count == len(due)
        for h in due:
            h.state = "expired"
            self.pending[h.src] -= h.amount

    async def _expire(self) -> int:
        async with self.db.session(tenant_id=self.tenant_id) as s:
            return await ledger.expire_due_holds(s, tenant_id=self.tenant_id)

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        if not self.txs:
            return
        t = data.draw(st.sampled_from(self.txs))
        entries = [(name, -amount) for name, amount in t.entries]
        expected = "ALREADY_REVERSED" if t.reversed else self.entries_error(entries)
        tx = self.call(
            expected,
            ledger.reverse,
            transaction_id=t.id,
            idempotency_key=uuid.uuid4().hex,
            reason="test",
        )
        if expected is None:
            t.reversed = True
            self.apply(entries)
            self.txs.append(ModelTx(tx.id, entries))

    @rule(name=st.sampled_from(WALLETS), freeze=st.booleans())
    def freeze(self, name: str, freeze: bool) -> None:
        fn = ledger.freeze_account if freeze else ledger.unfreeze_account
        self.call(None, fn, account_id=self.ids[name])
        (self.frozen.add if freeze else self.frozen.discard)(name)

    # --- invariants ----------------------------------------------------------------------
    @invariant()
    def matches_model_and_verifies(self) -> None:
        self.run(self._check())

    async def _check(self) -> None:
        async with self.db.session(tenant_id=self.tenant_id) as s:
            for name, account_id in self.ids.items():
                got = await ledger.get_balance(s, tenant_id=self.tenant_id, account_id=account_id)
                assert (got.posted, got.pending_out) == (self.posted[name], self.pending[name]), (
                    name
                )
            report = await ledger.verify(s, tenant_id=self.tenant_id)
        assert report.ok, str(report)


class TestLedgerStateMachine:
    def test_any_sequence_keeps_the_ledger_consistent(self, database_url: str) -> None:
        runner = asyncio.Runner()
        LedgerMachine.runner = runner
        LedgerMachine.db = runner.run(_database(database_url))
        try:
            run_state_machine_as_test(
                LedgerMachine,
                settings=settings(
                    max_examples=15,
                    stateful_step_count=25,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                ),
            )
        finally:
            runner.run(LedgerMachine.db.dispose())
            runner.close()
            clock.reset()


async def _database(url: str) -> Database:
    return Database(url)
