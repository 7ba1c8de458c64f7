"""Alembic environment: synchronous psycopg 3 connection to the configured database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from ludus.core.kit.models import Base
from ludus.models import import_all_models

import_all_models()
config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = str(config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url"))
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
