"""engagement kit: profiles, streaks, activity, badges, social, referrals, challenges,
leaderboards, reward catalog and redemptions

Revision ID: engage_0001
Revises: core_0001
Create Date: 2026-11-23 15:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ludus.core.kit.rls import disable_tenant_rls, enable_tenant_rls
from ludus.core.kit.settings import get_settings

revision = "engage_0001"
down_revision = "core_0001"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "engagement_profiles",
    "engagement_streaks",
    "engagement_activity",
    "engagement_earn_counters",
    "engagement_user_badges",
    "engagement_friendships",
    "engagement_classrooms",
    "engagement_teams",
    "engagement_classroom_members",
    "engagement_referral_codes",
    "engagement_referrals",
    "engagement_challenges",
    "engagement_challenge_participants",
    "engagement_challenge_contributions",
    "engagement_leaderboard_entries",
    "engagement_leaderboard_counts",
    "engagement_redemptions",
    "engagement_redemption_transitions",
)
APPEND_ONLY = ("engagement_activity", "engagement_redemption_transitions")
MINE = "tenant_id = ludus_current_tenant()"
HOT_TABLES = (
    "engagement_leaderboard_entries",
    "engagement_leaderboard_counts",
    "engagement_activity",
)
BUCKET_FN = """
CREATE OR REPLACE FUNCTION ludus_lb_bucket(score bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE s bigint := abs(score); k int := 0; b bigint;
BEGIN
  IF s < 256 THEN b := s;
  ELSE
    WHILE (s >> (k + 1)) > 0 LOOP k := k + 1; END LOOP;
    b := 256 + (k - 8) * 256 + ((s >> (k - 8)) & 255);
  END IF;
  IF score < 0 THEN RETURN -b - 1; END IF;
  RETURN b;
END $$
"""
FAST = "(tenant_id = (SELECT ludus_current_tenant()) OR (SELECT ludus_rls_bypass()))"
BYPASS = "ludus_rls_bypass()"


def _tenant(table: str) -> sa.Column:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey(
            "tenants.id", name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="RESTRICT"
        ),
        nullable=False,
    )


def _ts(*names: str) -> list[sa.Column]:
    return [
        sa.Column(n, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
        for n in names
    ]


def _user_fk(table: str, column: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def _tenant_index(table: str) -> None:
    op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"])


def _social_tables() -> None:
    t = "engagement_friendships"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("user_a", sa.Uuid(), nullable=False),
        sa.Column("user_b", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("initiated_by", sa.Uuid(), nullable=False),
        sa.Column("blocked_by", sa.Uuid()),
        *_ts("created_at", "updated_at"),
        _user_fk(t, "user_a"),
        _user_fk(t, "user_b"),
        sa.UniqueConstraint(
            "tenant_id", "user_a", "user_b", name=op.f(f"uq_{t}_tenant_id_user_a_user_b")
        ),
        sa.CheckConstraint("user_a < user_b", name=op.f(f"ck_{t}_ordered_pair")),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'blocked')", name=op.f(f"ck_{t}_status")
        ),
    )
    op.create_index(op.f(f"ix_{t}_user_a"), t, ["user_a"])
    op.create_index(op.f(f"ix_{t}_user_b"), t, ["user_b"])
    t = "engagement_classrooms"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("teacher_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("join_code", sa.String(16), nullable=False),
        sa.Column("config", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        *_ts("created_at", "updated_at"),
        _user_fk(t, "teacher_id", "RESTRICT"),
        sa.UniqueConstraint("join_code", name=op.f(f"uq_{t}_join_code")),
    )
    t = "engagement_teams"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("classroom_id", sa.Uuid()),
        sa.Column("challenge_id", sa.Uuid()),
        sa.Column("name", sa.String(120), nullable=False),
        *_ts("created_at"),
        sa.ForeignKeyConstraint(
            ["classroom_id"],
            ["engagement_classrooms.id"],
            name=op.f(f"fk_{t}_classroom_id_engagement_classrooms"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f(f"ix_{t}_classroom_id"), t, ["classroom_id"])
    op.create_index(op.f(f"ix_{t}_challenge_id"), t, ["challenge_id"])
    t = "engagement_classroom_members"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("classroom_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid()),
        sa.Column("status", sa.String(16), nullable=False),
        *_ts("joined_at"),
        sa.ForeignKeyConstraint(
            ["classroom_id"],
            ["engagement_classrooms.id"],
            name=op.f(f"fk_{t}_classroom_id_engagement_classrooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["engagement_teams.id"],
            name=op.f(f"fk_{t}_team_id_engagement_teams"),
            ondelete="SET NULL",
        ),
        _user_fk(t, "user_id"),
        sa.UniqueConstraint("classroom_id", "user_id", name=op.f(f"uq_{t}_classroom_id_user_id")),
    )
    op.create_index(op.f(f"ix_{t}_user_id"), t, ["user_id"])
    t = "engagement_referral_codes"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        *_ts("created_at"),
        _user_fk(t, "user_id"),
        sa.UniqueConstraint("tenant_id", "code", name=op.f(f"uq_{t}_tenant_id_code")),
        sa.UniqueConstraint("tenant_id", "user_id", name=op.f(f"uq_{t}_tenant_id_user_id")),
    )
    t = "engagement_referrals"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("referee_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("device_id", sa.String(128)),
        sa.Column("phone", sa.String(20)),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("rewarded_at", sa.DateTime(timezone=True)),
        *_ts("created_at", "updated_at"),
        _user_fk(t, "referrer_id"),
        _user_fk(t, "referee_id"),
        sa.UniqueConstraint("tenant_id", "referee_id", name=op.f(f"uq_{t}_tenant_id_referee_id")),
    )
    for col in ("referrer_id", "device_id", "phone"):
        op.create_index(op.f(f"ix_{t}_{col}"), t, [col])


def _progress_tables() -> None:
    t = "engagement_profiles"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("lifetime_xp", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("facts", postgresql.JSONB(), nullable=False),
        *_ts("created_at", "updated_at"),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "product", name=op.f(f"uq_{t}_tenant_id_user_id_product")
        ),
        sa.CheckConstraint("lifetime_xp >= 0", name=op.f(f"ck_{t}_xp")),
    )
    t = "engagement_streaks"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("current", sa.Integer(), nullable=False),
        sa.Column("longest", sa.Integer(), nullable=False),
        sa.Column("last_period", sa.Date()),
        sa.Column("last_action_at", sa.DateTime(timezone=True)),
        sa.Column("shield_until", sa.DateTime(timezone=True)),
        sa.Column("shield_bought_at", sa.DateTime(timezone=True)),
        sa.Column("broken_at", sa.DateTime(timezone=True)),
        sa.Column("broken_length", sa.Integer(), nullable=False),
        sa.Column("insured_at", sa.DateTime(timezone=True)),
        sa.Column("deadline", sa.DateTime(timezone=True)),
        *_ts("created_at", "updated_at"),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "product", name=op.f(f"uq_{t}_tenant_id_user_id_product")
        ),
    )
    op.create_index(op.f(f"ix_{t}_deadline"), t, ["deadline"])
    t = "engagement_activity"
    op.create_table(
        t,
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        _tenant(t),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("event_id", name=op.f(f"uq_{t}_event_id")),
    )
    op.create_index(
        "ix_engagement_activity_lookup", t, ["tenant_id", "user_id", "event_type", "occurred_at"]
    )
    t = "engagement_earn_counters"
    op.create_table(
        t,
        _tenant(t),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("bucket", sa.String(8), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "asset", "bucket", "bucket_start", name=op.f(f"pk_{t}")),
    )
    t = "engagement_badges"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Uuid(),
            sa.ForeignKey(
                "tenants.id", name=op.f(f"fk_{t}_tenant_id_tenants"), ondelete="RESTRICT"
            ),
        ),
        sa.Column("product", sa.String(32)),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("icon_url", sa.String(500)),
        sa.Column("rarity", sa.String(16), nullable=False),
        sa.Column("criteria", postgresql.JSONB(), nullable=False),
        sa.Column("repeatable", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("coin_reward", sa.BigInteger(), nullable=False),
        sa.Column("xp_reward", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_ts("created_at", "updated_at"),
        sa.UniqueConstraint("tenant_id", "code", name=op.f(f"uq_{t}_tenant_id_code")),
        sa.CheckConstraint(
            "rarity IN ('common', 'rare', 'epic', 'legendary')", name=op.f(f"ck_{t}_rarity")
        ),
    )
    # Global badges (tenant_id null) share one code space.
    op.create_index(
        "uq_engagement_badges_global_code",
        t,
        ["code"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NULL"),
    )
    _tenant_index(t)
    t = "engagement_user_badges"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("badge_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("source_event_id", sa.Uuid()),
        *_ts("earned_at"),
        sa.ForeignKeyConstraint(
            ["badge_id"],
            ["engagement_badges.id"],
            name=op.f(f"fk_{t}_badge_id_engagement_badges"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "badge_id",
            "seq",
            name=op.f(f"uq_{t}_tenant_id_user_id_badge_id_seq"),
        ),
    )
    op.create_index(op.f(f"ix_{t}_user_id"), t, ["user_id"])


def _challenge_tables() -> None:
    t = "engagement_challenges"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("config", postgresql.JSONB(), nullable=False),
        sa.Column("scoring", postgresql.JSONB(), nullable=False),
        sa.Column("rewards", postgresql.JSONB(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("classroom_id", sa.Uuid()),
        sa.Column("sponsor_tenant_id", sa.Uuid()),
        sa.Column("max_participants", sa.Integer()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("results", postgresql.JSONB()),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.Uuid()),
        *_ts("created_at", "updated_at"),
        sa.CheckConstraint("ends_at > starts_at", name=op.f(f"ck_{t}_dates")),
    )
    op.create_index(op.f(f"ix_{t}_ends_at"), t, ["ends_at"])
    t = "engagement_challenge_participants"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("challenge_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("baseline", sa.BigInteger(), nullable=False),
        sa.Column("score", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("rank", sa.Integer()),
        sa.Column("reward_coins", sa.BigInteger(), nullable=False),
        sa.Column("reward_paid", sa.Boolean(), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True)),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["engagement_challenges.id"],
            name=op.f(f"fk_{t}_challenge_id_engagement_challenges"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("challenge_id", "user_id", name=op.f(f"uq_{t}_challenge_id_user_id")),
    )
    op.create_index(op.f(f"ix_{t}_user_id"), t, ["user_id"])
    t = "engagement_challenge_contributions"
    op.create_table(
        t,
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        _tenant(t),
        sa.Column("challenge_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        *_ts("created_at"),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["engagement_challenges.id"],
            name=op.f(f"fk_{t}_challenge_id_engagement_challenges"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("challenge_id", "event_id", name=op.f(f"uq_{t}_challenge_id_event_id")),
    )
    t = "engagement_leaderboard_entries"
    op.create_table(
        t,
        _tenant(t),
        sa.Column("board", sa.String(120), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("neg_score", sa.BigInteger(), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "board", "period", "member_id", name=op.f(f"pk_{t}")),
    )
    t = "engagement_leaderboard_counts"
    op.create_table(
        t,
        _tenant(t),
        sa.Column("board", sa.String(120), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "board", "period", "bucket", name=op.f(f"pk_{t}")),
    )
    op.execute(BUCKET_FN)
    op.create_index(
        "ix_engagement_leaderboard_entries_rank",
        "engagement_leaderboard_entries",
        ["tenant_id", "board", "period", "neg_score", "reached_at", "member_id"],
    )


def _catalog_tables() -> None:
    t = "engagement_catalog_items"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("image_url", sa.String(500)),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("coin_cost", sa.BigInteger(), nullable=False),
        sa.Column("face_value", sa.BigInteger(), nullable=False),
        sa.Column("face_currency", sa.String(8), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("fulfillment_type", sa.String(32), nullable=False),
        sa.Column("partner_item_ref", sa.String(100)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("visible_tenant_ids", postgresql.ARRAY(sa.Uuid())),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))",
                persisted=True,
            ),
        ),
        *_ts("created_at", "updated_at"),
        sa.CheckConstraint("stock >= -1", name=op.f(f"ck_{t}_stock")),
        sa.CheckConstraint("coin_cost > 0", name=op.f(f"ck_{t}_coin_cost")),
    )
    _tenant_index(t)
    op.create_index("ix_engagement_catalog_items_search", t, ["search"], postgresql_using="gin")
    t = "engagement_redemptions"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("partner_tenant_id", sa.Uuid(), nullable=False),
        sa.Column("coin_cost", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("hold_id", sa.Uuid()),
        sa.Column("fulfillment_details", postgresql.JSONB(), nullable=False),
        sa.Column("partner_redemption_id", sa.String(100)),
        sa.Column("delivery_email", sa.String(320)),
        sa.Column("delivery_address", postgresql.JSONB()),
        sa.Column("error_message", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True)),
        *_ts("created_at", "updated_at"),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["engagement_catalog_items.id"],
            name=op.f(f"fk_{t}_item_id_engagement_catalog_items"),
            ondelete="RESTRICT",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "user_id",
            "idempotency_key",
            name=op.f(f"uq_{t}_tenant_id_user_id_idempotency_key"),
        ),
    )
    op.create_index(op.f(f"ix_{t}_status"), t, ["status"])
    op.create_index(
        "ix_engagement_redemptions_user_created", t, ["tenant_id", "user_id", "created_at"]
    )
    t = "engagement_redemption_transitions"
    op.create_table(
        t,
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(t),
        sa.Column("redemption_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text()),
        *_ts("created_at"),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["engagement_redemptions.id"],
            name=op.f(f"fk_{t}_redemption_id_engagement_redemptions"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f(f"ix_{t}_redemption_id"), t, ["redemption_id"])


def upgrade() -> None:
    _social_tables()
    _progress_tables()
    _challenge_tables()
    _catalog_tables()
    for table in TENANT_TABLES:
        _tenant_index(table)
    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    # Same rule, but the tenant and bypass settings are read once per query (an InitPlan)
    # instead of once per row: rank-of-me counts up to millions of index entries.
    for table in HOT_TABLES:
        op.execute(f"ALTER POLICY tenant_isolation ON {table} USING {FAST} WITH CHECK {FAST}")
    # Badges: tenants read global definitions and their own, and write only their own.
    op.execute("ALTER TABLE engagement_badges ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE engagement_badges FORCE ROW LEVEL SECURITY")
    op.execute(
        "CREATE POLICY badge_read ON engagement_badges FOR SELECT "
        f"USING (tenant_id IS NULL OR {MINE} OR {BYPASS})"
    )
    for cmd in ("INSERT", "UPDATE", "DELETE"):
        clause = "WITH CHECK" if cmd == "INSERT" else "USING"
        op.execute(
            f"CREATE POLICY badge_{cmd.lower()} ON engagement_badges FOR {cmd} "
            f"{clause} ({MINE} OR {BYPASS})"
        )
    # Catalog: the owner (partner) manages items; tenants it is visible to may read them and
    # take stock (the redemption's UPDATE of `stock`).
    visible = (
        f"({MINE} OR visible_tenant_ids IS NULL "
        f"OR ludus_current_tenant() = ANY(visible_tenant_ids) OR {BYPASS})"
    )
    t = "engagement_catalog_items"
    op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY catalog_read ON {t} FOR SELECT USING {visible}")
    op.execute(
        f"CREATE POLICY catalog_stock ON {t} FOR UPDATE USING {visible} WITH CHECK {visible}"
    )
    op.execute(f"CREATE POLICY catalog_insert ON {t} FOR INSERT WITH CHECK ({MINE} OR {BYPASS})")
    op.execute(f"CREATE POLICY catalog_delete ON {t} FOR DELETE USING ({MINE} OR {BYPASS})")
    role = get_settings().db_app_role
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {role}")


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    op.execute("DROP FUNCTION IF EXISTS ludus_lb_bucket(bigint)")
    for table in (
        "engagement_leaderboard_counts",
        "engagement_redemption_transitions",
        "engagement_redemptions",
        "engagement_catalog_items",
        "engagement_leaderboard_entries",
        "engagement_challenge_contributions",
        "engagement_challenge_participants",
        "engagement_challenges",
        "engagement_user_badges",
        "engagement_badges",
        "engagement_earn_counters",
        "engagement_activity",
        "engagement_streaks",
        "engagement_profiles",
        "engagement_referrals",
        "engagement_referral_codes",
        "engagement_classroom_members",
        "engagement_teams",
        "engagement_classrooms",
        "engagement_friendships",
    ):
        op.drop_table(table)
