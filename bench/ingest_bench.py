"""Ingest benchmark: asaas ingest of the full IMDB Parquet copy vs the usual pandas way.

The usual way: read the Parquet files with pandas and `DataFrame.to_sql` through SQLAlchemy into
the same DuckDB schema (rows go through executemany). It is measured on a slice, since it is far
too slow for all 100,000 rows, and compared as rows per second in the same run.

    python bench/ingest_bench.py [--source ../shared/data/imdb] [--usual-rows 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from asaas.ingest import ingest
from asaas.store import open_store

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--usual-rows", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "asaas.duckdb"))
        t0 = time.perf_counter()
        report = ingest(store, args.source)
        asaas_s = time.perf_counter() - t0
        asaas_rate = report.inserted / asaas_s

        usual = open_store(str(Path(tmp) / "usual.duckdb"))
        frames = [pd.read_parquet(p) for p in sorted(Path(args.source).glob("*.parquet"))]
        df = pd.concat(frames).head(args.usual_rows)
        df = pd.DataFrame({
            "id": range(1, len(df) + 1), "dataset": "imdb", "external_id": df["id"],
            "split": df["split"], "text": df["text"], "label": df["label"].where(df["label"] >= 0),
            "rating": df["rating"], "content_hash": "x", "ingest_run_id": 1,
        })
        with usual.transaction() as conn:
            conn.exec_driver_sql(
                "INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
                "VALUES (1, 'imdb', 'bench', 'succeeded', now())")
        t0 = time.perf_counter()
        with usual.engine.begin() as conn:
            df.to_sql("reviews", conn, if_exists="append", index=False)
        usual_s = time.perf_counter() - t0
        usual_rate = len(df) / usual_s

    print(f"asaas ingest   : {report.inserted:,} rows in {asaas_s:.2f} s = {asaas_rate:,.0f} rows/s "
          f"(target: all 100,000 in under 30 s)")
    print(f"pandas to_sql  : {len(df):,} rows in {usual_s:.2f} s = {usual_rate:,.0f} rows/s")
    print(f"ratio          : {asaas_rate / usual_rate:.1f}x the usual way's rows/s")


if __name__ == "__main__":
    main()
