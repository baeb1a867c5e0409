"""Model versions carry a signature: ``model_versions.registry_mac``, the HMAC-SHA256 of the
row under a registry key kept outside the database (asaas.models.signing), checked before any
version is loaded, so that writing the database alone cannot make a scoring host load a model.

Versions registered before this revision have none and are not loaded until someone holding the
key vouches for them: `asaas models verify NAME:VERSION --record` (docs/security.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _has_column(table: str, column: str) -> bool:
    return op.get_bind().execute(sa.text(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :t AND column_name = :c"), {"t": table, "c": column}).scalar() > 0


def upgrade() -> None:
    if not _has_column("model_versions", "registry_mac"):  # DuckDB keeps it on downgrade
        op.add_column("model_versions", sa.Column("registry_mac", sa.String(64), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "duckdb":
        return  # DuckDB cannot drop a column of a referenced table (see 0002)
    op.drop_column("model_versions", "registry_mac")
