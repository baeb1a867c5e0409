"""Multi-label predictions (off-topic classifiers) and complaint topics.

- ``label_predictions``: one row per review, model version and label, for versions that answer
  several yes/no questions about a review at once (the off-topic classifier: review bomb, about
  the game, criticises the developer...). Kept apart from ``predictions`` so that no sentiment
  view (metrics, timelines, calibration) can mistake an off-topic score for a sentiment one;
  written by the same scoring engine, in the same transaction per chunk, so a run resumes as a
  sentiment run does. No foreign keys, as ``predictions`` on PostgreSQL (0005): it is written in
  bulk, only by asaas.
- ``topic_runs``, ``topics``, ``review_topics``: what `asaas topics` found in a product's negative
  reviews (one run per call), each topic's keywords and centre, and which topic each negative
  review belongs to (clustered in the run's period, or assigned later to the nearest centre), so
  a topic's share of the negatives can be followed over time and around events.

Written by hand (SQLAlchemy cannot reflect DuckDB) with DDL that DuckDB and PostgreSQL both accept.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_predictions",
        sa.Column("review_id", sa.BigInteger, primary_key=True),
        sa.Column("model_version_id", sa.BigInteger, primary_key=True),
        sa.Column("label_name", sa.String(32), primary_key=True),
        sa.Column("scoring_run_id", sa.BigInteger, nullable=False),
        sa.Column("prob", sa.Double, nullable=False),
        sa.Column("predicted", sa.SmallInteger, nullable=False),
    )
    op.execute(sa.schema.CreateSequence(sa.Sequence("topic_runs_id_seq")))
    op.create_table(
        "topic_runs",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False,
                  server_default=sa.text("nextval('topic_runs_id_seq')")),
        sa.Column("product_id", sa.BigInteger, sa.ForeignKey("products.id"), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=True),
        sa.Column("source", sa.String(160), nullable=False),
        sa.Column("model_version_id", sa.BigInteger, nullable=True),
        sa.Column("period_start", sa.DateTime, nullable=True),
        sa.Column("period_end", sa.DateTime, nullable=True),
        sa.Column("alert_id", sa.String(300), nullable=True),
        sa.Column("embedder", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=True),
        sa.Column("n_reviews", sa.Integer, nullable=False),
        sa.Column("n_assigned", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "topics",
        sa.Column("topic_run_id", sa.BigInteger, sa.ForeignKey("topic_runs.id"),
                  primary_key=True),
        sa.Column("topic_no", sa.Integer, primary_key=True),
        sa.Column("n_reviews", sa.Integer, nullable=False),
        sa.Column("keywords", sa.Text, nullable=False),
        sa.Column("centroid", sa.Text, nullable=True),
        sa.Column("examples", sa.Text, nullable=True),
    )
    op.create_table(
        "review_topics",
        sa.Column("topic_run_id", sa.BigInteger, sa.ForeignKey("topic_runs.id"),
                  primary_key=True),
        sa.Column("review_id", sa.BigInteger, sa.ForeignKey("reviews.id"), primary_key=True),
        sa.Column("topic_no", sa.Integer, nullable=False),
        sa.Column("similarity", sa.Double, nullable=True),
        sa.Column("in_period", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("review_topics")
    op.drop_table("topics")
    op.drop_table("topic_runs")
    op.execute(sa.schema.DropSequence(sa.Sequence("topic_runs_id_seq")))
    op.drop_table("label_predictions")
