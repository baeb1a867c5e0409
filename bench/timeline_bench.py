"""Timeline benchmark: one product's weekly series from the `timeline` view (observed, raw and
corrected negative share with intervals, every model version) over all 189,235 Steam reviews
with three model versions scored, against the usual way: pandas reads the scored rows and
groups them (the error rates need every labelled review, the series one product's).

    python bench/timeline_bench.py                       # builds a scratch DuckDB from the
                                                         # shared Steam Parquet, 3 versions of
                                                         # synthetic predictions
    python bench/timeline_bench.py --db /tmp/steamwork/asaas.duckdb   # a real scored database

Target: under 1 s for the series (the view's query, as `asaas timeline` runs it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
STEAM = (ROOT.parent / "shared" / "data" / "steam"
         / "woctezuma_steam_reviews_80games_2010-2018.parquet")
SPLIT_BEFORE = np.datetime64("2017-07-01")


def build(db: Path, source: Path, versions: int = 3) -> None:
    """Products and reviews from the Steam Parquet (as `asaas ingest --format steam` stores
    them), and ``versions`` model versions with predictions for every review: a noisy
    classifier whose accuracy differs per version (speed does not depend on the model)."""
    sys.path.insert(0, str(ROOT))
    from asaas.store import open_store
    from asaas.views import install_views

    t = pq.read_table(source, columns=["appid", "app_name", "recommendationid", "language",
                                       "review", "created_at", "voted_up",
                                       "written_during_early_access"])
    n = t.num_rows
    store = open_store(str(db))
    apps = pc.unique(t["appid"]).to_numpy()
    first_name = {a: nm for a, nm in zip(t["appid"].to_pylist(), t["app_name"].to_pylist())}
    at = t["created_at"].cast(pa.timestamp("ms", tz="UTC")).cast(pa.timestamp("us")).to_numpy()
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
                             "VALUES (1, 'steam', 'bench', 'succeeded', now())")
        store.insert_arrow(conn, "products", pa.table({
            "id": pa.array(np.arange(1, len(apps) + 1, dtype=np.int64)),
            "source": ["steam"] * len(apps), "external_id": [str(a) for a in apps],
            "name": [first_name[a] for a in apps], "kind": ["game"] * len(apps),
            "created_at": pa.array(np.full(len(apps), np.datetime64("2018-03-23", "us")),
                                   pa.timestamp("us"))}))
        pid = {a: i + 1 for i, a in enumerate(apps)}
        label = t["voted_up"].cast(pa.int16())
        store.insert_arrow(conn, "reviews", pa.table({
            "id": pa.array(np.arange(1, n + 1, dtype=np.int64)), "dataset": ["steam"] * n,
            "external_id": t["recommendationid"],
            "split": pa.array(np.where(at < SPLIT_BEFORE, "train", "test")),
            "text": t["review"], "label": label, "content_hash": ["h"] * n,
            "product_id": pa.array([pid[a] for a in t["appid"].to_pylist()], pa.int64()),
            "reviewed_at": pa.array(at, pa.timestamp("us")), "language": t["language"],
            "early_access": t["written_during_early_access"],
            "ingest_run_id": pa.array(np.ones(n, np.int64))}))
        rng = np.random.default_rng(0)
        y = label.to_numpy(zero_copy_only=False)
        for k in range(1, versions + 1):
            conn.exec_driver_sql(f"INSERT INTO models (id, name, created_at) VALUES "
                                 f"({k}, 'model{k}', now())")
            conn.exec_driver_sql(
                "INSERT INTO model_versions (id, model_id, version, kind, artifact_uri, "
                f"train_dataset, train_split, created_at) VALUES ({k}, {k}, 1, 'sklearn', 'x', "
                f"'steam', 'train', now())")
            conn.exec_driver_sql(f"INSERT INTO scoring_runs (id, model_version_id, dataset, "
                                 f"status, started_at) VALUES ({k}, {k}, 'steam', 'succeeded', "
                                 "now())")
            s = np.clip(0.5 + (y - 0.5) * 0.25 * (k + 1) + rng.normal(0, 0.3, n), 0, 1)
            store.insert_arrow(conn, "predictions", pa.table({
                "review_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
                "model_version_id": pa.array(np.full(n, k)),
                "scoring_run_id": pa.array(np.full(n, k)),
                "label": pa.array((s >= 0.5).astype(np.int16)), "prob_positive": pa.array(s)}))
    install_views(store)
    store.engine.dispose()


def biggest_product(db: str) -> str:
    import duckdb

    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute("SELECT p.external_id FROM reviews r JOIN products p ON "
                           "p.id = r.product_id GROUP BY p.external_id "
                           "ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    finally:
        con.close()


def asaas_way(db: str, product: str) -> tuple[float, int]:
    """The series as `asaas timeline PRODUCT --freq week` reads it (library, no process)."""
    sys.path.insert(0, str(ROOT))
    from asaas.store import open_store
    from asaas.timeline.series import timeline

    store = open_store(db)
    t0 = time.perf_counter()
    series = timeline(store, product, freq="week", dataset="steam")
    elapsed = time.perf_counter() - t0
    store.engine.dispose()
    return elapsed, len(series.table.rows)


ROWS_SQL = ("SELECT p.model_version_id, r.product_id, r.split, r.reviewed_at, "
            "r.label AS y_true, p.label AS y_pred, p.prob_positive, v.train_dataset, "
            "v.train_split FROM predictions p JOIN reviews r ON r.id = p.review_id "
            "JOIN model_versions v ON v.id = p.model_version_id WHERE r.dataset = 'steam'")


def usual_way(db: str, product: str, reader: str) -> tuple[float, int]:
    """pandas: read the scored rows, error rates per version on held-out labelled rows, then
    one product's weekly raw and corrected share."""
    import duckdb
    import pandas as pd

    t0 = time.perf_counter()
    if reader == "read_sql":  # the notebook way: pandas over a SQLAlchemy connection
        import sqlalchemy as sa

        engine = sa.create_engine(f"duckdb:///{db}", connect_args={"read_only": True})
        with engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT id FROM products WHERE external_id = :e"),
                               {"e": product}).scalar()
            df = pd.read_sql(sa.text(ROWS_SQL), conn)
        engine.dispose()
    else:  # DuckDB's Arrow export straight into pandas: the fastest way to get the rows
        con = duckdb.connect(db, read_only=True)
        pid = con.execute("SELECT id FROM products WHERE external_id = ?", [product]).fetchone()[0]
        df = con.execute(ROWS_SQL).df()
        con.close()
    held = df[df.y_true.notna() & ~((df.train_dataset == "steam") & (df.split == df.train_split))]
    neg = held[held.y_true == 0].groupby("model_version_id").y_pred.agg(
        lambda s: (s == 0).mean())
    pos = held[held.y_true == 1].groupby("model_version_id").y_pred.agg(
        lambda s: (s == 0).mean())
    mine = df[df.product_id == pid].copy()
    mine["week"] = mine.reviewed_at.dt.to_period("W-SUN").dt.start_time
    mine["pred_neg"] = mine.y_pred == 0
    mine["obs_neg"] = (mine.y_true == 0).where(mine.y_true.notna())
    g = mine.groupby(["model_version_id", "week"]).agg(
        n=("pred_neg", "size"), q=("pred_neg", "mean"), obs=("obs_neg", "mean"),
        mean_prob=("prob_positive", "mean")).reset_index()
    s, f = g.model_version_id.map(neg), g.model_version_id.map(pos)
    g["corrected"] = ((g.q - f) / (s - f)).clip(0, 1)
    return time.perf_counter() - t0, len(g)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an existing database with Steam reviews and predictions")
    parser.add_argument("--source", default=str(STEAM), help="Steam Parquet to build from")
    parser.add_argument("--product", help="product external id (default: the most reviewed)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per way")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="asaas-timeline-bench-")
    db = args.db
    if db is None:
        db = str(Path(tmp.name) / "steam.duckdb")
        t0 = time.perf_counter()
        build(Path(db), Path(args.source))
        print(f"built {db} in {time.perf_counter() - t0:.1f} s")
    product = args.product or biggest_product(db)
    import duckdb

    con = duckdb.connect(db, read_only=True)
    n_reviews, n_pred, n_versions = con.execute(
        "SELECT (SELECT count(*) FROM reviews WHERE dataset = 'steam'), count(*), "
        "count(DISTINCT model_version_id) FROM predictions").fetchone()
    con.close()
    print(f"{n_reviews:,} steam reviews, {n_pred:,} predictions of {n_versions} versions; "
          f"product {product}")
    first, rows = asaas_way(db, product)
    times = [asaas_way(db, product)[0] for _ in range(args.repeat)]
    ours = statistics.median(times)
    print(f"asaas timeline {product} --freq week: {rows} rows, first {first * 1000:.0f} ms, "
          f"median {ours * 1000:.0f} ms (min {min(times) * 1000:.0f}, max "
          f"{max(times) * 1000:.0f})")
    for reader in ("read_sql", "duckdb.df"):
        usual = [usual_way(db, product, reader) for _ in range(max(2, args.repeat // 2))]
        median = statistics.median(u[0] for u in usual)
        print(f"usual way (pandas, rows via {reader}): {usual[0][1]} rows, median "
              f"{median * 1000:.0f} ms -> asaas {median / ours:.1f}x faster")
    tmp.cleanup()


if __name__ == "__main__":
    main()
