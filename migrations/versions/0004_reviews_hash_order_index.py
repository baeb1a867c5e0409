"""An index in the order scoring hands reviews out (dataset, content hash, id), on PostgreSQL.

Scoring works through a dataset's reviews in content-hash order (a fixed pseudo-random order, so
any prefix is a fair sample), in keyset pages and, on PostgreSQL, in chunks claimed with
``FOR NO KEY UPDATE SKIP LOCKED``. Without this index every page or claim sorts the whole
selection again. DuckDB does not use indexes for ordered range scans (its zone maps serve its
full scans), while an index there costs memory for every review, so it is not created on DuckDB.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ix_reviews_dataset_hash_order"


def upgrade() -> None:
    if op.get_bind().dialect.name != "duckdb":
        op.create_index(INDEX, "reviews", ["dataset", "content_hash", "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "duckdb":
        op.drop_index(INDEX, table_name="reviews")
