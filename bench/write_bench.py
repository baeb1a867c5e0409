"""Prediction-write benchmark: Store.insert_arrow (what asaas score uses) against executemany of
the same rows, into the same schema on the same engine, in the same run.

    python bench/write_bench.py [--rows 1000000] [--usual-rows 20000]          # DuckDB files
    python bench/write_bench.py --postgres [--rows 1000000] [--usual-rows 50000]
    python bench/write_bench.py --db postgresql://user@host/db ...               # your server

DuckDB: insert_arrow scans the Arrow table in one statement. PostgreSQL: it streams the rows
with COPY (psycopg 3) in PostgreSQL's binary format (pgpq encodes it from the Arrow buffers),
straight into the table under a savepoint as scoring does (a staging table and ON CONFLICT DO
NOTHING only if a key exists); the usual way is executemany of one INSERT per row, both as
SQLAlchemy runs it (its "insertmanyvalues" batching) and as plain psycopg does
(cursor.executemany, which psycopg 3 pipelines). `--postgres` starts a throwaway server.
Targets: at least 100,000 prediction rows/s; on PostgreSQL at least 20x executemany.
"""

from __future__ import annotations

import argparse
import os
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
    series = (f"range(1, {n_reviews + 1}) t(i)" if store.is_duckdb
              else f"generate_series(1, {n_reviews}) t(i)")
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
                             "VALUES (1, 'bench', 'bench', 'succeeded', now())")
        conn.exec_driver_sql(
            "INSERT INTO reviews (id, dataset, external_id, split, text, content_hash, "
            f"ingest_run_id) SELECT i, 'bench', CAST(i AS VARCHAR), 'test', 'x', 'h', 1 "
            f"FROM {series}")
        conn.exec_driver_sql("INSERT INTO models (id, name, created_at) VALUES (1, 'm', now())")
        conn.exec_driver_sql("INSERT INTO model_versions (id, model_id, version, kind, "
                             "artifact_uri, created_at) VALUES (1, 1, 1, 'hf', 'x', now())")
        conn.exec_driver_sql("INSERT INTO scoring_runs (id, model_version_id, dataset, status, "
                             "started_at) VALUES (1, 1, 'bench', 'running', now())")
    if not store.is_duckdb:
        # The reviews just written are not the writes timed: flush them first (superusers and
        # pg_checkpoint members only; elsewhere the timing includes the server's catching up).
        with store.engine.connect() as conn:
            try:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("CHECKPOINT")
            except sa.exc.DBAPIError:
                pass


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


def _fresh(url: str | None, tmp: str, name: str):
    """A new store at head: a DuckDB file in tmp, or a new database on the server of url."""
    if url is None:
        return open_store(str(Path(tmp) / f"{name}.duckdb"))
    db = f"{name}_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {db}")
        conn.exec_driver_sql(f"CREATE DATABASE {db}")
    admin.dispose()
    return open_store(sa.engine.make_url(url).set(database=db).render_as_string(False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--usual-rows", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=ScoreOptions().commit_rows,
                        help="rows per transaction [default: what asaas score commits at most]")
    parser.add_argument("--db", default=None, help="a PostgreSQL server URL [default: DuckDB]")
    parser.add_argument("--postgres", action="store_true",
                        help="start a throwaway PostgreSQL server and measure there")
    args = parser.parse_args()
    if args.postgres:
        from _pg import temp_server

        with temp_server() as url:
            run(args, url)
    else:
        run(args, args.db)


def run(args: argparse.Namespace, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _fresh(url, tmp, "asaas_way")
        _setup(store, args.rows)
        table = _table(args.rows)
        t0 = time.perf_counter()
        for start in range(0, args.rows, args.chunk):
            with store.transaction() as conn:  # one short transaction per chunk, as scoring does
                store.insert_arrow(conn, "predictions", table.slice(start, args.chunk),
                                   on_conflict_do_nothing=True)
        asaas_s = time.perf_counter() - t0
        store.engine.dispose()

        usual = _fresh(url, tmp, "usual_way")
        _setup(usual, args.usual_rows)
        rows = _table(args.usual_rows).to_pylist()
        t0 = time.perf_counter()
        with usual.engine.begin() as conn:
            conn.execute(sa.insert(predictions), rows)
        usual_s = time.perf_counter() - t0
        plain_s = None
        if not usual.is_duckdb:  # psycopg's own executemany, one INSERT per row (pipelined)
            with usual.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM predictions")
            cols = list(rows[0])
            sql = (f"INSERT INTO predictions ({', '.join(cols)}) VALUES "
                   f"({', '.join(['%s'] * len(cols))})")
            t0 = time.perf_counter()
            with usual.engine.begin() as conn:
                with conn.connection.driver_connection.cursor() as cur:
                    cur.executemany(sql, [tuple(r[c] for c in cols) for r in rows])
            plain_s = time.perf_counter() - t0
        usual.engine.dispose()
    engine = "DuckDB" if url is None else "PostgreSQL"
    a, u = args.rows / asaas_s, args.usual_rows / usual_s
    print(f"{engine}: asaas insert_arrow ({'Arrow scan' if url is None else 'COPY'}), "
          f"{args.chunk:,}-row transactions: {args.rows:,} rows in {asaas_s:.2f} s = "
          f"{a:,.0f} rows/s (target >= 100,000)")
    print(f"{engine}: SQLAlchemy executemany, one transaction: {args.usual_rows:,} rows in "
          f"{usual_s:.2f} s = {u:,.0f} rows/s; ratio {a / u:.1f}x")
    if plain_s is not None:
        p = args.usual_rows / plain_s
        print(f"{engine}: psycopg cursor.executemany, one transaction: {args.usual_rows:,} rows "
              f"in {plain_s:.2f} s = {p:,.0f} rows/s; ratio {a / p:.1f}x (target >= 20x)")


if __name__ == "__main__":
    main()
