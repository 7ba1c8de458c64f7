"""`ledger verify`: every ledger invariant checked by one query each, with a printable report."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SAMPLE = 10
_T = "(CAST(:tenant AS uuid) IS NULL OR {alias}.tenant_id = CAST(:tenant AS uuid))"

# name -> (what must hold, query listing the rows where it does not)
CHECKS: dict[str, tuple[str, str]] = {
    "postings_balance": (
        "each transaction's postings sum to zero per asset",
        f"""SELECT p.transaction_id, p.asset, sum(p.amount) AS net FROM ledger_postings p
            WHERE {_T.format(alias="p")} GROUP BY 1, 2 HAVING sum(p.amount) <> 0""",
    ),
    "two_postings": (
        "each transaction has at least two postings",
        f"""SELECT t.id, count(p.id) AS postings FROM ledger_transactions t
            LEFT JOIN ledger_postings p ON p.transaction_id = t.id
            WHERE {_T.format(alias="t")} GROUP BY t.id HAVING count(p.id) < 2""",
    ),
    "posting_accounts": (
        "postings reference an account of their tenant and asset, and a valid shard",
        f"""SELECT p.id, p.account_id, p.asset, p.shard FROM ledger_postings p
            LEFT JOIN ledger_accounts a ON a.id = p.account_id
            WHERE {_T.format(alias="p")} AND (a.id IS NULL
               OR p.asset <> a.asset OR p.tenant_id <> a.tenant_id
               OR (p.shard = -1 AND a.shards > 0) OR p.shard >= greatest(a.shards, 0)
               AND p.shard <> -1)""",
    ),
    "stored_balances": (
        "stored balances and versions equal their postings' sums and counts",
        f"""SELECT a.id AS account_id, -1 AS shard, a.balance, coalesce(s.total, 0) AS postings
            FROM ledger_accounts a
            LEFT JOIN (SELECT account_id, sum(amount) AS total, count(*) AS n
                       FROM ledger_postings p WHERE p.shard = -1 AND {_T.format(alias="p")}
                       GROUP BY 1) s
                   ON s.account_id = a.id
            WHERE {_T.format(alias="a")}
              AND (a.balance <> coalesce(s.total, 0) OR a.version <> coalesce(s.n, 0))
            UNION ALL
            SELECT b.account_id, b.shard, b.balance, coalesce(s.total, 0)
            FROM ledger_balance_shards b
            LEFT JOIN (SELECT account_id, shard, sum(amount) AS total, count(*) AS n
                       FROM ledger_postings p WHERE p.shard >= 0 AND {_T.format(alias="p")}
                       GROUP BY 1, 2) s
                   ON s.account_id = b.account_id AND s.shard = b.shard
            WHERE {_T.format(alias="b")}
              AND (b.balance <> coalesce(s.total, 0) OR b.version <> coalesce(s.n, 0))""",
    ),
    "balance_chain": (
        "each posting's balance_after = previous balance_after + amount (seq 1, 2, ...)",
        f"""SELECT id, account_id, shard, seq, balance_after, running FROM (
                SELECT p.*, sum(p.amount) OVER w AS running, row_number() OVER w AS rn
                FROM ledger_postings p WHERE {_T.format(alias="p")}
                WINDOW w AS (PARTITION BY p.account_id, p.shard ORDER BY p.seq)) x
            WHERE balance_after <> running OR seq <> rn""",
    ),
    "no_forbidden_negatives": (
        "accounts that may not go negative have balance >= pending holds >= 0",
        f"""SELECT a.id, a.balance, a.pending_out FROM ledger_accounts a
            WHERE {_T.format(alias="a")} AND NOT a.allow_negative
              AND (a.balance < 0 OR a.balance < a.pending_out OR a.pending_out < 0
                   OR a.shards > 0)""",
    ),
    "supply_nets_to_zero": (
        "per tenant and asset all balances sum to zero (supply = -issuers)",
        f"""SELECT a.tenant_id, a.asset, sum(a.balance + coalesce(sh.total, 0)) AS net
            FROM ledger_accounts a
            LEFT JOIN (SELECT account_id, sum(balance) AS total FROM ledger_balance_shards b
                       WHERE {_T.format(alias="b")} GROUP BY 1) sh ON sh.account_id = a.id
            WHERE {_T.format(alias="a")}
            GROUP BY 1, 2 HAVING sum(a.balance + coalesce(sh.total, 0)) <> 0""",
    ),
    "pending_holds": (
        "each account's pending_out equals its pending holds",
        f"""SELECT a.id, a.pending_out, coalesce(h.total, 0) AS holds FROM ledger_accounts a
            LEFT JOIN (SELECT from_account_id, sum(amount) AS total FROM ledger_holds h
                       WHERE h.status = 'pending' AND {_T.format(alias="h")} GROUP BY 1) h
                   ON h.from_account_id = a.id
            WHERE {_T.format(alias="a")} AND a.pending_out <> coalesce(h.total, 0)""",
    ),
    "resolved_holds": (
        "posted holds point at their transaction, which moved the posted amount",
        f"""SELECT h.id, h.status, h.posted_amount FROM ledger_holds h
            LEFT JOIN ledger_transactions t ON t.id = h.transaction_id AND t.hold_id = h.id
            LEFT JOIN ledger_postings p ON p.transaction_id = t.id
                 AND p.account_id = h.to_account_id
            WHERE {_T.format(alias="h")} AND (
                (h.status = 'posted' AND (p.amount IS NULL OR p.amount <> h.posted_amount))
                OR (h.status <> 'posted' AND (h.transaction_id IS NOT NULL
                                              OR h.posted_amount IS NOT NULL))
                OR ((h.status = 'pending') = (h.resolved_at IS NOT NULL)))""",
    ),
    "reversals_mirror": (
        "a reversal's postings are exactly the negated postings of the original",
        f"""SELECT r.id, r.reversal_of FROM ledger_transactions r
            WHERE {_T.format(alias="r")} AND r.reversal_of IS NOT NULL AND EXISTS (
                (SELECT account_id, -amount FROM ledger_postings
                 WHERE transaction_id = r.reversal_of
                 EXCEPT SELECT account_id, amount FROM ledger_postings
                 WHERE transaction_id = r.id)
                UNION ALL
                (SELECT account_id, amount FROM ledger_postings WHERE transaction_id = r.id
                 EXCEPT SELECT account_id, -amount FROM ledger_postings
                 WHERE transaction_id = r.reversal_of))""",
    ),
}

_STATS = f"""
SELECT (SELECT count(*) FROM ledger_accounts a WHERE {_T.format(alias="a")}) AS accounts,
       (SELECT count(*) FROM ledger_transactions t WHERE {_T.format(alias="t")}) AS transactions,
       (SELECT count(*) FROM ledger_postings p WHERE {_T.format(alias="p")}) AS postings,
       (SELECT count(*) FROM ledger_holds h
        WHERE {_T.format(alias="h")} AND h.status = 'pending') AS pending_holds
"""


@dataclass
class CheckResult:
    name: str
    description: str
    failures: int
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failures == 0


@dataclass
class VerifyReport:
    checks: list[CheckResult]
    stats: dict[str, int]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]

    def render(self) -> Group:
        table = Table(title="Ledger verification", show_lines=False)
        table.add_column("check")
        table.add_column("invariant")
        table.add_column("result", justify="right")
        for c in self.checks:
            result = "[green]ok[/]" if c.ok else f"[red]{c.failures} failing[/]"
            table.add_row(c.name, c.description, result)
        parts: list[Any] = [table]
        parts.append(Text(", ".join(f"{k}: {v}" for k, v in self.stats.items())))
        for c in self.failed:
            parts.append(Text(f"{c.name}: {c.samples[:SAMPLE]}", style="red"))
        verdict = "ledger OK" if self.ok else f"{len(self.failed)} invariant(s) violated"
        parts.append(Text(verdict, style="bold green" if self.ok else "bold red"))
        return Group(*parts)

    def __str__(self) -> str:
        lines = [
            f"{c.name}: {'ok' if c.ok else f'{c.failures} failing {c.samples}'}"
            for c in self.checks
        ]
        return "\n".join(lines)


async def verify(session: AsyncSession, *, tenant_id: uuid.UUID | None = None) -> VerifyReport:
    """Check every invariant (all tenants the session can see, or one tenant)."""
    params = {"tenant": tenant_id}
    results = []
    for name, (description, sql) in CHECKS.items():
        rows = (await session.execute(text(f"{sql} LIMIT 1001"), params)).mappings().all()
        samples = [{k: str(v) for k, v in row.items()} for row in rows[:SAMPLE]]
        results.append(CheckResult(name, description, len(rows), samples))
    stats = (await session.execute(text(_STATS), params)).mappings().one()
    return VerifyReport(results, {k: int(v) for k, v in stats.items()})
