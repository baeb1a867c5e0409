"""Report benchmark: `asaas report` over 5 model versions x 25,000 predictions, against the usual
way (read the predictions into pandas and compute the same metrics with scikit-learn), same data.

    python bench/report_bench.py [--versions 5] [--reviews 25000]

Target: the report in under 2 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


def _seed(store, versions: int, n: int) -> None:
    rng = np.random.default_rng(0)
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
                             "VALUES (1, 'imdb', 'bench', 'succeeded', now())")
        conn.exec_driver_sql(
            "INSERT INTO reviews (id, dataset, external_id, split, text, label, content_hash, "
            "ingest_run_id) SELECT i, 'imdb', i::VARCHAR, 'test', repeat('word ', (i % 600)::INT), "
            f"(i % 2)::SMALLINT, 'h', 1 FROM range(1, {n + 1}) t(i)")
        y = np.arange(1, n + 1) % 2
        for k in range(1, versions + 1):
            conn.exec_driver_sql(f"INSERT INTO models (id, name, created_at) VALUES "
                                 f"({k}, 'model{k}', now())")
            conn.exec_driver_sql(f"INSERT INTO model_versions (id, model_id, version, kind, "
                                 f"artifact_uri, created_at) VALUES ({k}, {k}, 1, 'hf', 'x', now())")
            conn.exec_driver_sql(f"INSERT INTO scoring_runs (id, model_version_id, dataset, "
                                 f"status, started_at) VALUES ({k}, {k}, 'imdb', 'succeeded', now())")
            s = np.clip(y * 0.3 * k / versions + rng.random(n) * 0.7, 0, 1).round(3)
            store.insert_arrow(conn, "predictions", pa.table({
                "review_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
                "model_version_id": pa.array(np.full(n, k)),
                "scoring_run_id": pa.array(np.full(n, k)),
                "label": pa.array((s >= 0.5).astype(np.int16)), "prob_positive": pa.array(s),
                "n_tokens": pa.array(np.full(n, 300, np.int32)),
                "truncated": pa.array(rng.random(n) < 0.14)}))


def usual_way(db: str) -> float:
    import duckdb
    from sklearn import metrics as m

    t0 = time.perf_counter()
    con = duckdb.connect(db, read_only=True)
    df = con.execute("SELECT p.model_version_id, r.label AS y, p.label AS pred, p.prob_positive "
                     "AS s FROM predictions p JOIN reviews r ON r.id = p.review_id").df()
    con.close()
    for _, g in df.groupby("model_version_id"):
        m.accuracy_score(g.y, g.pred)
        m.precision_recall_fscore_support(g.y, g.pred, average="binary")
        m.confusion_matrix(g.y, g.pred)
        m.roc_auc_score(g.y, g.s)
        m.average_precision_score(g.y, g.s)
        m.brier_score_loss(g.y, g.s)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--reviews", type=int, default=25_000)
    args = parser.parse_args()
    from asaas.report import metrics_report
    from asaas.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.duckdb")
        store = open_store(db)
        _seed(store, args.versions, args.reviews)
        t0 = time.perf_counter()
        table = metrics_report(store, split="test")
        lib_s = time.perf_counter() - t0
        assert len(table.rows) == args.versions
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "asaas", "report", "--db", db], check=True,
                       capture_output=True)
        cli_s = time.perf_counter() - t0
        usual_s = usual_way(db)
    print(f"{args.versions} versions x {args.reviews:,} predictions")
    print(f"asaas report (library, views incl. AUC/AP/calibration/intervals): {lib_s:.2f} s")
    print(f"asaas report (CLI process, Python start-up included):             {cli_s:.2f} s "
          "(target < 2 s)")
    print(f"usual way (pandas + scikit-learn, fewer metrics):                {usual_s:.2f} s")
    print(f"ratio usual / asaas library: {usual_s / lib_s:.1f}x")


if __name__ == "__main__":
    main()
