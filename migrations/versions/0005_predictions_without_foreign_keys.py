"""PostgreSQL: predictions without foreign-key constraints, for bulk-write speed.

``predictions`` is the table asaas writes in bulk (hundreds of thousands of rows a minute from
several scorers). On PostgreSQL each of its three foreign keys is a trigger run per inserted row
(a lookup and a row lock on the referenced row): measured with COPY of 100,000 predictions, 1.6 s
with them and 0.3 s without, three quarters of the write. Its rows are written only by asaas, for
reviews, model versions and scoring runs it has just read in the same transaction, and asaas
deletes none of those while predictions reference them (a failed ingest removes its own reviews
and their predictions together), so the constraints guarded against nothing asaas does.
DuckDB cannot drop constraints, and its checks cost little, so DuckDB files keep them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    ("predictions_review_id_fkey", "review_id", "reviews"),
    ("predictions_model_version_id_fkey", "model_version_id", "model_versions"),
    ("predictions_scoring_run_id_fkey", "scoring_run_id", "scoring_runs"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "duckdb":
        return
    for name, _, _ in FOREIGN_KEYS:
        op.drop_constraint(name, "predictions", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name == "duckdb":
        return
    for name, column, target in FOREIGN_KEYS:
        op.create_foreign_key(name, "predictions", target, [column], ["id"])
