"""Surrogate ids from named sequences (DuckDB and PostgreSQL share ``nextval``)."""

from __future__ import annotations

import sqlalchemy as sa


def next_id(conn: sa.Connection, sequence: str) -> int:
    """Draw the next id from ``sequence`` inside the caller's transaction."""
    return int(conn.execute(sa.text(f"SELECT nextval('{sequence}')")).scalar_one())
