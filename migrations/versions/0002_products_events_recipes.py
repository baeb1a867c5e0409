"""Time-stamped product reviews, product events, artifact checksums and scoring recipes.

- reviews gain the review's language, whether it was written during early access, and the
  developer's response (text and time), for feedback-over-time analysis (Steam and alike);
- ``events`` holds dated product events (releases, patches, responses), added by hand, imported
  or derived from the reviews themselves;
- model_versions gain the sha256 of every artifact file (checked before loading), the split the
  version was trained on, and the scoring recipe it is scored with (max length, truncation,
  quantisation), so one version never mixes predictions made two ways.

Written by hand (SQLAlchemy cannot reflect DuckDB) with DDL that DuckDB and PostgreSQL both accept.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

REVIEW_COLUMNS = (
    ("language", sa.String(32)),
    ("early_access", sa.Boolean),
    ("developer_response", sa.Text),
    ("developer_responded_at", sa.DateTime),
)
VERSION_COLUMNS = (
    ("artifact_sha256", sa.Text),
    ("train_split", sa.String(32)),
    ("max_length", sa.Integer),
    ("truncation", sa.String(16)),
    ("quantize", sa.String(16)),
)


def _is_duckdb() -> bool:
    return op.get_bind().dialect.name == "duckdb"


def _has_column(table: str, column: str) -> bool:
    return op.get_bind().execute(sa.text(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :t AND column_name = :c"), {"t": table, "c": column}).scalar() > 0


def _add_columns(table: str, columns: tuple[tuple[str, sa.types.TypeEngine], ...]) -> None:
    for name, type_ in columns:
        # A DuckDB database downgraded below 0002 keeps these columns (see downgrade).
        if not _has_column(table, name):
            op.add_column(table, sa.Column(name, type_, nullable=True))


def upgrade() -> None:
    _add_columns("reviews", REVIEW_COLUMNS)
    op.create_index("ix_reviews_product_time", "reviews", ["product_id", "reviewed_at"])
    _add_columns("model_versions", VERSION_COLUMNS)
    # Every version trained so far learned from the train split of its dataset.
    op.execute("UPDATE model_versions SET train_split = 'train' WHERE train_dataset IS NOT NULL")
    op.execute(sa.schema.CreateSequence(sa.Sequence("events_id_seq")))
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False,
                  server_default=sa.text("nextval('events_id_seq')")),
        sa.Column("product_id", sa.BigInteger, sa.ForeignKey("products.id"), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("details", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("product_id", "kind", "occurred_at",
                            name="uq_events_product_kind_time"),
    )


def downgrade() -> None:
    op.drop_table("events")
    op.execute(sa.schema.DropSequence(sa.Sequence("events_id_seq")))
    op.drop_index("ix_reviews_product_time", table_name="reviews")
    if _is_duckdb():
        # DuckDB cannot drop a column from a table that indexes or foreign keys depend on
        # ("Cannot alter entry"), so the new columns stay, nullable and unused by 0001's code;
        # a later upgrade adds only the columns that are missing.
        return
    for name, _ in reversed(VERSION_COLUMNS):
        op.drop_column("model_versions", name)
    for name, _ in reversed(REVIEW_COLUMNS):
        op.drop_column("reviews", name)
