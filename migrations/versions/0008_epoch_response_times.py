"""Developer response times of 0 (Steam's "no response", stored by earlier ingests as 1970-01-01
00:00:00) become NULL, as ingest now reads them.

Before this, ``timestamp_dev_responded = 0`` was stored as a 1970 answer: ``product_responses``
counted the review as answered, with a response time of minus decades, and every re-ingest of
the same review would now record a change from 1970 to none in ``review_history``. A real
answer is never dated to the first second of 1970. The same for edit times (``timestamp_updated``,
filled only since 0006).

Data only; the downgrade leaves the NULLs (the 1970 values carried no information).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("developer_responded_at", "review_updated_at"):
        op.execute(sa.text(f"UPDATE reviews SET {column} = NULL "
                           f"WHERE {column} = TIMESTAMP '1970-01-01 00:00:00'"))


def downgrade() -> None:
    pass
