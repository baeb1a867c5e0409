"""Integration: the full offline IMDB copy in ../shared/data/imdb, when it is there."""

from __future__ import annotations

import duckdb

from tests.requires import SHARED_IMDB, shared_data


@shared_data("data", "imdb", "train.parquet")
def test_full_imdb_ingest(invoke, db_path):
    result = invoke("ingest", "--source", str(SHARED_IMDB))
    assert result.exit_code == 0, result.output
    assert "inserted 100,000 (test 25,000, train 25,000, unsup 50,000)" in result.output
    con = duckdb.connect(str(db_path), read_only=True)
    counts = dict(con.execute("SELECT split, count(*) FROM reviews GROUP BY split").fetchall())
    assert counts == {"train": 25_000, "test": 25_000, "unsup": 50_000}
    per_class = con.execute(
        "SELECT split, label, count(*) FROM reviews WHERE split IN ('train', 'test') "
        "GROUP BY split, label ORDER BY split, label").fetchall()
    assert per_class == [("test", 0, 12_500), ("test", 1, 12_500),
                         ("train", 0, 12_500), ("train", 1, 12_500)]
    assert con.execute("SELECT count(*) FROM reviews WHERE split = 'unsup' AND label IS NOT NULL"
                       ).fetchone()[0] == 0
    assert con.execute("SELECT min(rating), max(rating) FROM reviews WHERE label = 1"
                       ).fetchone() == (7.0, 10.0)
    con.close()
    again = invoke("ingest", "--source", str(SHARED_IMDB))
    assert "inserted 0" in again.output and "already present 100,000" in again.output
