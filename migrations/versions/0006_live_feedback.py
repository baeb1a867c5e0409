"""Live feedback: the mutable fields of store reviews, their change history, and notifications.

- reviews gain what a store changes after a review is first seen: when its author last edited it
  (Steam ``timestamp_updated``), its helpful and funny votes, comment count and Steam's weighted
  vote score. Existing rows keep NULL (not recorded), which later ingests fill in;
- ``review_history`` keeps one row per changed field of a stored review (old and new value, when
  it was seen, by which ingest run), so an edit or a flipped recommendation is never lost;
- ``notifications`` records each alert sent to each channel, so `asaas notify` sends an alert
  once, and keeps failed deliveries (attempts, masked error) to try them again.

Where a fetch stands (Steam's cursor) is kept beside the raw pages in the landing folder, not
here: see asaas.fetch.landing.

Written by hand (SQLAlchemy cannot reflect DuckDB) with DDL that DuckDB and PostgreSQL both accept.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

REVIEW_COLUMNS = (
    ("review_updated_at", sa.DateTime),
    ("votes_up", sa.BigInteger),
    ("votes_funny", sa.BigInteger),
    ("comment_count", sa.BigInteger),
    ("weighted_vote_score", sa.Double),
)


def _is_duckdb() -> bool:
    return op.get_bind().dialect.name == "duckdb"


def _has_column(table: str, column: str) -> bool:
    return op.get_bind().execute(sa.text(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :t AND column_name = :c"), {"t": table, "c": column}).scalar() > 0


def _id(seq: str) -> sa.Column:
    return sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False,
                     server_default=sa.text(f"nextval('{seq}')"))


def upgrade() -> None:
    for name, type_ in REVIEW_COLUMNS:
        # A DuckDB database downgraded below 0006 keeps these columns (see downgrade).
        if not _has_column("reviews", name):
            op.add_column("reviews", sa.Column(name, type_, nullable=True))
    op.execute(sa.schema.CreateSequence(sa.Sequence("review_history_id_seq")))
    op.create_table(
        "review_history",
        _id("review_history_id_seq"),
        sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old_value", sa.Text, nullable=True),
        sa.Column("new_value", sa.Text, nullable=True),
        sa.Column("seen_at", sa.DateTime, nullable=False),
        sa.Column("ingest_run_id", sa.BigInteger, sa.ForeignKey("ingest_runs.id"),
                  nullable=False),
    )
    op.create_index("ix_review_history_review", "review_history", ["review_id", "seen_at"])
    op.execute(sa.schema.CreateSequence(sa.Sequence("notifications_id_seq")))
    op.create_table(
        "notifications",
        _id("notifications_id_seq"),
        sa.Column("alert_id", sa.String(300), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(160), nullable=True),
        sa.Column("first_tried_at", sa.DateTime, nullable=False),
        sa.Column("last_tried_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("alert_id", "channel", name="uq_notifications_alert_channel"),
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.execute(sa.schema.DropSequence(sa.Sequence("notifications_id_seq")))
    op.drop_index("ix_review_history_review", table_name="review_history")
    op.drop_table("review_history")
    op.execute(sa.schema.DropSequence(sa.Sequence("review_history_id_seq")))
    if _is_duckdb():
        # DuckDB cannot drop a column from a table that indexes or foreign keys depend on
        # ("Cannot alter entry"): the columns stay, nullable and unused by 0005's code, and the
        # next upgrade adds only the ones that are missing.
        return
    for name, _ in reversed(REVIEW_COLUMNS):
        op.drop_column("reviews", name)
