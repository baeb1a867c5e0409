"""Prediction-write benchmark: Store.insert_arrow (what asaas score uses) against SQLAlchemy
executemany of the same rows, into the same DuckDB schema, in the same run.

    python bench/write_bench.py [--rows 1000000] [--usual-rows 20000]

Target: at least 100,000 prediction rows/s into DuckDB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from asaas.scoring import ScoreOptions
from asaas.store import open_store
from asaas.store.schema import predictions


def _setup(store, n_reviews: int) -> None:
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
                             "VALUES (1, 'bench', 'bench', 'succeeded', now())")
        conn.exec_driver_sql(
            "INSERT INTO reviews (id, dataset, external_id, split, text, content_hash, "
            f"ingest_run_id) SELECT i, 'bench', i::VARCHAR, 'test', 'x', 'h', 1 "
            f"FROM range(1, {n_reviews + 1}) t(i)")
        conn.exec_driver_sql("INSERT INTO models (id, name, created_at) VALUES (1, 'm', now())")
        conn.exec_driver_sql("INSERT INTO model_versions (id, model_id, version, kind, "
                             "artifact_uri, created_at) VALUES (1, 1, 1, 'hf', 'x', now())")
        conn.exec_driver_sql("INSERT INTO scoring_runs (id, model_version_id, dataset, status, "
                             "started_at) VALUES (1, 1, 'bench', 'running', now())")


def _table(n: int) -> pa.Table:
    rng = np.random.default_rng(0)
    probs = rng.random(n)
    return pa.table({
        "review_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "model_version_id": pa.array(np.ones(n, dtype=np.int64)),
        "scoring_run_id": pa.array(np.ones(n, dtype=np.int64)),
        "label": pa.array((probs >= 0.5).astype(np.int16)),
        "prob_positive": pa.array(probs),
        "n_tokens": pa.array(rng.integers(10, 512, n).astype(np.int32)),
        "truncated": pa.array(rng.random(n) < 0.14),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--usual-rows", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=ScoreOptions().commit_rows,
                        help="rows per transaction [default: what asaas score commits at most]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "a.duckdb"))
        _setup(store, args.rows)
        table = _table(args.rows)
        t0 = time.perf_counter()
        for start in range(0, args.rows, args.chunk):
            with store.transaction() as conn:  # one short transaction per chunk, as scoring does
                store.insert_arrow(conn, "predictions", table.slice(start, args.chunk),
                                   on_conflict_do_nothing=True)
        asaas_s = time.perf_counter() - t0

        usual = open_store(str(Path(tmp) / "b.duckdb"))
        _setup(usual, args.usual_rows)
        rows = _table(args.usual_rows).to_pylist()
        t0 = time.perf_counter()
        with usual.engine.begin() as conn:
            conn.execute(sa.insert(predictions), rows)
        usual_s = time.perf_counter() - t0
    a, u = args.rows / asaas_s, args.usual_rows / usual_s
    print(f"asaas insert_arrow, {args.chunk:,}-row transactions: {args.rows:,} rows in "
          f"{asaas_s:.2f} s = {a:,.0f} rows/s (target >= 100,000)")
    print(f"SQLAlchemy executemany, one transaction: {args.usual_rows:,} rows in {usual_s:.2f} s "
          f"= {u:,.0f} rows/s")
    print(f"ratio: {a / u:.1f}x")


if __name__ == "__main__":
    main()
