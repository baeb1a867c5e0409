"""Assertions shared by the CLI tests."""

from __future__ import annotations

from decimal import Decimal

import duckdb


def ok(result) -> str:
    """The command succeeded; returns its output."""
    assert result.exit_code == 0, result.output
    return result.output


def err(result, *, after_log_lines: bool = False) -> str:
    """The command failed with exactly one 'Error: ...' line and no traceback.

    With ``after_log_lines`` the error may follow progress lines (training logs its epochs).
    Returns the error line.
    """
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output, result.output
    lines = result.output.strip().splitlines()
    if after_log_lines:
        assert lines[-1].startswith("Error: "), result.output
        assert sum(line.startswith("Error: ") for line in lines) == 1, result.output
        return lines[-1]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return result.output


def q(db, sql: str) -> list[tuple]:
    """Query the database directly, as an analyst would: a DuckDB file read-only with DuckDB,
    a URL (PostgreSQL) with SQLAlchemy. NUMERIC results come back as floats on both."""
    text = str(db)
    if "://" not in text or text.startswith("duckdb://"):
        con = duckdb.connect(text.removeprefix("duckdb:///"), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    import sqlalchemy as sa

    engine = sa.create_engine(text)
    try:
        with engine.connect() as conn:
            return [tuple(float(v) if isinstance(v, Decimal) else v for v in row)
                    for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()
