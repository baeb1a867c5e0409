"""Assertions and small tools shared by the tests: a command's success or one-line error, direct
queries of either engine, the reviews a scoring run would select, job files, hostile pickles."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb

from asaas.tables import to_float


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
            return [tuple(to_float(v) for v in row)
                    for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def accuracy(db, model: str) -> float:
    """The accuracy of ``model``'s predictions on the labelled test split (any version)."""
    return q(db, f"""
        SELECT avg((p.label = r.label)::INT) FROM predictions p
        JOIN reviews r ON r.id = p.review_id
        JOIN model_versions v ON v.id = p.model_version_id JOIN models m ON m.id = v.model_id
        WHERE m.name = '{model}' AND r.split = 'test'""")[0][0]


def query_arrow(store, sql: str):
    """Run a read query through ``store`` and return an Arrow table (NUMERIC as doubles on
    PostgreSQL, as DuckDB gives them)."""
    import pyarrow as pa
    import sqlalchemy as sa

    with store.transaction() as conn:
        if store.is_duckdb:
            relation = conn.connection.driver_connection.sql(sql)
            # DuckDB 2 renamed fetch_arrow_table() to to_arrow_table().
            fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
            return fetch()
        result = conn.execute(sa.text(sql))
        names = list(result.keys())
        rows = result.fetchall()
    return pa.table({n: [to_float(r[i]) for r in rows]
                     for i, n in enumerate(names)})


def select_pending(store, mv, options) -> tuple[int, list[int], list[str]]:
    """(size of the selection, ids and texts of all its pending reviews), in hand-out order:
    what a scoring run of ``mv`` would score, all at once (``asaas score`` streams pages)."""
    from asaas.scoring import selection as sel_mod

    sel = sel_mod.selection_for(store, mv, options)
    total, _ = sel_mod.count(store, sel)
    ids: list[int] = []
    texts: list[str] = []
    for page_ids, page_texts in sel_mod.iter_pages(store, sel, 1 << 20):
        ids += page_ids
        texts += page_texts
    return total, ids, texts


def job_file(folder: Path, body: str, name: str = "nightly") -> Path:
    """Write ``folder``/jobs/``name``.toml holding ``body`` (dedented); returns its path."""
    path = folder / "jobs" / f"{name}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


class RunsCode:
    """Unpickling this calls Path.touch(marker): a stand-in for `os.system`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))
