"""Every migration is reversible: heads → base → heads on a scratch database."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg

from ludus.core.kit import migrate


class TestMigrations:
    def test_downgrade_to_base_and_upgrade_again(self, database_url: str) -> None:
        name = f"ludus_migrate_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(database_url)._replace(path="/" + name))
        try:
            migrate.upgrade(url)
            migrate.downgrade(url, "base")
            with psycopg.connect(url) as conn:
                left = conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                    " AND table_name NOT IN ('alembic_version')"
                ).fetchall()
            assert left == []
            migrate.upgrade(url)
        finally:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
