"""Initial schema: reviews, products, ingest runs, models and versions, scoring runs,
predictions, prediction failures and job runs.

Written by hand (SQLAlchemy cannot reflect DuckDB, so autogenerate is not available) and kept to
DDL that DuckDB and PostgreSQL both accept.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SEQUENCES = (
    "products_id_seq",
    "ingest_runs_id_seq",
    "reviews_id_seq",
    "models_id_seq",
    "model_versions_id_seq",
    "job_runs_id_seq",
    "scoring_runs_id_seq",
)


def _id(seq: str) -> sa.Column:
    return sa.Column(
        "id",
        sa.BigInteger,
        primary_key=True,
        autoincrement=False,
        server_default=sa.text(f"nextval('{seq}')"),
    )


def upgrade() -> None:
    for name in SEQUENCES:
        op.execute(sa.schema.CreateSequence(sa.Sequence(name)))

    op.create_table(
        "products",
        _id("products_id_seq"),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(256), nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("source", "external_id", name="uq_products_source_external_id"),
    )
    op.create_table(
        "ingest_runs",
        _id("ingest_runs_id_seq"),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("splits", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("duration_s", sa.Double, nullable=True),
        sa.Column("rows_read", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rows_inserted", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rows_skipped", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("rows_rejected", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("details", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "reviews",
        _id("reviews_id_seq"),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(256), nullable=False),
        sa.Column("split", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("label", sa.SmallInteger, nullable=True),
        sa.Column("rating", sa.Double, nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("product_id", sa.BigInteger, sa.ForeignKey("products.id"), nullable=True),
        sa.Column("reviewed_at", sa.DateTime, nullable=True),
        sa.Column(
            "ingest_run_id", sa.BigInteger, sa.ForeignKey("ingest_runs.id"), nullable=False
        ),
        sa.UniqueConstraint("dataset", "external_id", name="uq_reviews_dataset_external_id"),
    )
    op.create_index("ix_reviews_dataset_split", "reviews", ["dataset", "split"])
    op.create_table(
        "models",
        _id("models_id_seq"),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "model_versions",
        _id("model_versions_id_seq"),
        sa.Column("model_id", sa.BigInteger, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("artifact_uri", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=True),
        sa.Column("train_dataset", sa.String(64), nullable=True),
        sa.Column("train_fingerprint", sa.String(64), nullable=True),
        sa.Column("metrics", sa.Text, nullable=True),
        sa.Column("environment", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
    )
    op.create_table(
        "job_runs",
        _id("job_runs_id_seq"),
        sa.Column("job_name", sa.String(128), nullable=False),
        sa.Column("job_file", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("steps", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("host", sa.String(256), nullable=True),
        sa.Column("pid", sa.Integer, nullable=True),
    )
    op.create_table(
        "scoring_runs",
        _id("scoring_runs_id_seq"),
        sa.Column(
            "model_version_id",
            sa.BigInteger,
            sa.ForeignKey("model_versions.id"),
            nullable=False,
        ),
        sa.Column("job_run_id", sa.BigInteger, sa.ForeignKey("job_runs.id"), nullable=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("splits", sa.Text, nullable=True),
        sa.Column("device", sa.String(64), nullable=True),
        sa.Column("settings", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime, nullable=True),
        sa.Column("n_scored", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("n_failed", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "predictions",
        sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id"), primary_key=True),
        sa.Column(
            "model_version_id",
            sa.BigInteger,
            sa.ForeignKey("model_versions.id"),
            primary_key=True,
        ),
        sa.Column(
            "scoring_run_id", sa.BigInteger, sa.ForeignKey("scoring_runs.id"), nullable=False
        ),
        sa.Column("label", sa.SmallInteger, nullable=False),
        sa.Column("prob_positive", sa.Double, nullable=False),
        sa.Column("n_tokens", sa.Integer, nullable=True),
        sa.Column("truncated", sa.Boolean, nullable=True),
    )
    op.create_table(
        "prediction_failures",
        sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id"), primary_key=True),
        sa.Column(
            "model_version_id",
            sa.BigInteger,
            sa.ForeignKey("model_versions.id"),
            primary_key=True,
        ),
        sa.Column(
            "scoring_run_id", sa.BigInteger, sa.ForeignKey("scoring_runs.id"), nullable=False
        ),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "prediction_failures",
        "predictions",
        "scoring_runs",
        "job_runs",
        "model_versions",
        "models",
    ):
        op.drop_table(table)
    op.drop_index("ix_reviews_dataset_split", table_name="reviews")
    for table in ("reviews", "ingest_runs", "products"):
        op.drop_table(table)
    for name in reversed(SEQUENCES):
        op.execute(sa.schema.DropSequence(sa.Sequence(name)))
