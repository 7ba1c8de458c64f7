"""events, jobs and webhooks: Procrastinate schema, outbox, handler runs, dead letters,
inbound webhooks, outbound subscriptions and deliveries

Revision ID: events_0001
Revises: core_0001
Create Date: 2026-11-23 15:31:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

from ludus.core.kit.rls import POLICY_EXPR, disable_tenant_rls, enable_tenant_rls
from ludus.core.kit.settings import get_settings

revision = "events_0001"
down_revision = "core_0001"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "webhook_provider_configs",
    "webhook_inbound",
    "webhook_subscriptions",
    "webhook_deliveries",
    "webhook_delivery_attempts",
)
# tenant_id may be null (platform events): null rows need the bypass scope.
NULLABLE_TENANT_TABLES = ("event_outbox", "event_handler_runs", "event_dead_letters")
APPEND_ONLY = ("event_outbox", "event_handler_runs", "webhook_delivery_attempts")
PROCRASTINATE_TABLES = (
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
)


def _tenant_fk(table: str, nullable: bool = False) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("tenant_id", sa.Uuid(), nullable=nullable),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
    ]


def _now(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=nullable
    )


def _procrastinate_upgrade() -> None:
    # Raw driver call: the schema has '%' and ':' that SQLAlchemy text() would misread.
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(SchemaManager.get_schema())


def _procrastinate_downgrade() -> None:
    op.execute(
        "DO $$ DECLARE r record; BEGIN "
        "FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%' LOOP "
        "EXECUTE 'DROP FUNCTION IF EXISTS ' || r.sig || ' CASCADE'; END LOOP; END $$"
    )
    for table in PROCRASTINATE_TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    for type_name in (
        "procrastinate_job_to_defer_v1",
        "procrastinate_job_event_type",
        "procrastinate_job_status",
    ):
        op.execute(f"DROP TYPE IF EXISTS {type_name} CASCADE")


def upgrade() -> None:
    role = get_settings().db_app_role
    _procrastinate_upgrade()

    op.create_table(
        "event_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        *_tenant_fk("event_outbox", nullable=True),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
    )
    op.create_index(op.f("ix_event_outbox_event_type"), "event_outbox", ["event_type"])
    op.create_index(op.f("ix_event_outbox_tenant_id"), "event_outbox", ["tenant_id"])
    op.create_index(op.f("ix_event_outbox_occurred_at"), "event_outbox", ["occurred_at"])

    op.create_table(
        "event_handler_runs",
        sa.Column("handler", sa.String(150), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid()),
        _now("processed_at"),
        sa.PrimaryKeyConstraint("handler", "event_id", name=op.f("pk_event_handler_runs")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event_outbox.id"],
            name=op.f("fk_event_handler_runs_event_id_event_outbox"),
            ondelete="RESTRICT",
        ),
    )
    op.create_index(op.f("ix_event_handler_runs_event_id"), "event_handler_runs", ["event_id"])

    op.create_table(
        "event_dead_letters",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("handler", sa.String(150), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("tenant_id", sa.Uuid()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("replay_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_dead_letters")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event_outbox.id"],
            name=op.f("fk_event_dead_letters_event_id_event_outbox"),
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint(
            "event_id", "handler", name=op.f("uq_event_dead_letters_event_id_handler")
        ),
        sa.CheckConstraint(
            "status IN ('dead', 'replaying', 'resolved')", name=op.f("ck_event_dead_letters_status")
        ),
    )
    op.create_index(op.f("ix_event_dead_letters_tenant_id"), "event_dead_letters", ["tenant_id"])
    op.create_index(op.f("ix_event_dead_letters_status"), "event_dead_letters", ["status"])

    op.create_table(
        "webhook_provider_configs",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant_fk("webhook_provider_configs"),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("options", postgresql.JSONB(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_provider_configs")),
        sa.UniqueConstraint(
            "tenant_id", "provider", name=op.f("uq_webhook_provider_configs_tenant_id_provider")
        ),
    )
    op.create_index(
        op.f("ix_webhook_provider_configs_tenant_id"), "webhook_provider_configs", ["tenant_id"]
    )

    op.create_table(
        "webhook_inbound",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant_fk("webhook_inbound"),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_event_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(100)),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(200)),
        sa.Column("source_ip", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text()),
        _now("received_at"),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_inbound")),
        sa.UniqueConstraint(
            "provider",
            "provider_event_id",
            name=op.f("uq_webhook_inbound_provider_provider_event_id"),
        ),
        sa.CheckConstraint(
            "status IN ('received', 'processed', 'failed')", name=op.f("ck_webhook_inbound_status")
        ),
    )
    op.create_index(op.f("ix_webhook_inbound_tenant_id"), "webhook_inbound", ["tenant_id"])

    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant_fk("webhook_subscriptions"),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.String(100)), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscriptions")),
    )
    op.create_index(
        op.f("ix_webhook_subscriptions_tenant_id"), "webhook_subscriptions", ["tenant_id"]
    )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant_fk("webhook_deliveries"),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_status_code", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        _now("created_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_deliveries_subscription_id_webhook_subscriptions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event_outbox.id"],
            name=op.f("fk_webhook_deliveries_event_id_event_outbox"),
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint(
            "subscription_id",
            "event_id",
            name=op.f("uq_webhook_deliveries_subscription_id_event_id"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')",
            name=op.f("ck_webhook_deliveries_status"),
        ),
    )
    op.create_index(op.f("ix_webhook_deliveries_tenant_id"), "webhook_deliveries", ["tenant_id"])

    op.create_table(
        "webhook_delivery_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_tenant_fk("webhook_delivery_attempts"),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery_attempts")),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_delivery_attempts_delivery_id_webhook_deliveries"),
            ondelete="RESTRICT",
        ),
    )
    op.create_index(
        op.f("ix_webhook_delivery_attempts_tenant_id"), "webhook_delivery_attempts", ["tenant_id"]
    )
    op.create_index(
        op.f("ix_webhook_delivery_attempts_delivery_id"),
        "webhook_delivery_attempts",
        ["delivery_id"],
    )

    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    for table in NULLABLE_TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING {POLICY_EXPR} WITH CHECK {POLICY_EXPR}"
        )
    # Request and job transactions run as the app role: they defer jobs (emit) and run
    # handlers; Procrastinate's own tables carry only ids, no tenant data.
    tables = ", ".join((*PROCRASTINATE_TABLES, *TENANT_TABLES, *NULLABLE_TENANT_TABLES))
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {role}")


def downgrade() -> None:
    for table in (*TENANT_TABLES, *NULLABLE_TENANT_TABLES):
        disable_tenant_rls(table)
    for table in (
        "webhook_delivery_attempts",
        "webhook_deliveries",
        "webhook_subscriptions",
        "webhook_inbound",
        "webhook_provider_configs",
        "event_dead_letters",
        "event_handler_runs",
        "event_outbox",
    ):
        op.drop_table(table)
    _procrastinate_downgrade()
