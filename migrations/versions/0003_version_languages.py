"""Model versions record the languages they read, and older transformer versions get the
scoring recipe they were trained with.

- ``model_versions.languages``: comma-separated languages the version was trained on (NULL:
  not recorded, taken as English plus reviews of unknown language). Scoring selects these by
  default and the views measure coverage against them.
- Versions registered before 0002 carry their recipe only inside ``params`` (JSON): copy it into
  the recipe columns, so SQL clients see how every version scores.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _has_column(table: str, column: str) -> bool:
    return op.get_bind().execute(sa.text(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :t AND column_name = :c"), {"t": table, "c": column}).scalar() > 0


def upgrade() -> None:
    if not _has_column("model_versions", "languages"):  # DuckDB keeps it on downgrade
        op.add_column("model_versions", sa.Column("languages", sa.Text, nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, kind, params, max_length, truncation, languages "
                                "FROM model_versions")).fetchall()
    for id_, kind, params, max_length, truncation, languages in rows:
        p = json.loads(params or "{}")
        values = {}
        if kind == "hf" and max_length is None:
            values["max_length"] = p.get("max_length") or 512
            values["truncation"] = truncation or p.get("truncation") or "head"
        if languages is None and p.get("languages"):
            values["languages"] = ",".join(p["languages"])
        if values:
            sets = ", ".join(f"{k} = :{k}" for k in values)
            bind.execute(sa.text(f"UPDATE model_versions SET {sets} WHERE id = :id"),
                         {**values, "id": id_})


def downgrade() -> None:
    if op.get_bind().dialect.name == "duckdb":
        return  # DuckDB cannot drop a column of a referenced table (see 0002)
    op.drop_column("model_versions", "languages")
