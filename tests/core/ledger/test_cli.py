"""`ludus ledger verify` against the configured database (the test worker's)."""

from __future__ import annotations

import os

import psycopg
from typer.testing import CliRunner

from ludus.cli.main import app


def _verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["ledger", "verify", *args], env={"COLUMNS": "200"})
    return result.exit_code, f"{result.output}\n{result.exception!r}"


class TestVerifyCommand:
    def test_clean_ledger_exits_zero_and_a_discrepancy_exits_one(self, database_url) -> None:
        assert os.environ["DATABASE_URL"] == database_url
        with psycopg.connect(database_url, autocommit=True) as conn:
            tenant = conn.execute(
                "INSERT INTO tenants (id, slug, name, kind, status, theme, features, config,"
                " products, default_locale, currency, timezone) VALUES (gen_random_uuid(),"
                " 'cli-' || substr(md5(random()::text), 1, 8), 'CLI', 'bank_partner', 'active',"
                " '{}', '{}', '{}', '{}', 'en', 'USD', 'UTC') RETURNING id"
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO ledger_assets (id, tenant_id, code, scale)"
                " VALUES (gen_random_uuid(), %s, 'USD', 2)",
                (tenant,),
            )
            account = conn.execute(
                "INSERT INTO ledger_accounts (id, tenant_id, asset, owner_type, purpose,"
                " allow_negative, status) VALUES (gen_random_uuid(), %s, 'USD', 'system',"
                " 'suspense', true, 'active') RETURNING id",
                (tenant,),
            ).fetchone()[0]
            scope = ("--tenant", str(tenant))
            code, output = _verify(*scope)
            assert code == 0, output
            assert "ledger OK" in output
            # A balance no posting explains: verify must notice.
            conn.execute("UPDATE ledger_accounts SET balance = 5 WHERE id = %s", (account,))
            try:
                code, output = _verify(*scope)
                whole_database = _verify()[0]
            finally:
                conn.execute("UPDATE ledger_accounts SET balance = 0 WHERE id = %s", (account,))
            assert code == 1, output
            assert whole_database == 1
            assert "stored_balances" in output and "violated" in output, output
            code, output = _verify(*scope)
            assert code == 0, output
