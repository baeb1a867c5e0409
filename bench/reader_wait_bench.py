"""Reader-wait benchmark: how long can `asaas sql` / `asaas report` be made to wait while a
scoring job writes? DuckDB lets one process open a file at a time, so asaas writers hold it per
short transaction (one chunk of predictions) and readers retry with backoff in between.

Compared in the same run with the usual way: a writer that keeps one connection open for the
whole job, which locks readers out until it ends.

    python bench/reader_wait_bench.py [--chunks 120] [--chunk-rows 8192] [--reads 40]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


def _setup(db: str, n: int) -> None:
    from asaas.store import open_store

    store = open_store(db)
    with store.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
                             "VALUES (1, 'b', 'b', 'succeeded', now())")
        conn.exec_driver_sql(
            "INSERT INTO reviews (id, dataset, external_id, split, text, label, content_hash, "
            f"ingest_run_id) SELECT i, 'b', i::VARCHAR, 'test', 'x', (i % 2)::SMALLINT, 'h', 1 "
            f"FROM range(1, {n + 1}) t(i)")
        conn.exec_driver_sql("INSERT INTO models (id, name, created_at) VALUES (1, 'm', now())")
        conn.exec_driver_sql("INSERT INTO model_versions (id, model_id, version, kind, "
                             "artifact_uri, created_at) VALUES (1, 1, 1, 'hf', 'x', now())")
        conn.exec_driver_sql("INSERT INTO scoring_runs (id, model_version_id, dataset, status, "
                             "started_at) VALUES (1, 1, 'b', 'running', now())")


def _chunk(start: int, rows: int) -> pa.Table:
    ids = np.arange(start, start + rows, dtype=np.int64)
    probs = np.random.default_rng(start).random(rows)
    return pa.table({"review_id": pa.array(ids), "model_version_id": pa.array(np.ones(rows, np.int64)),
                     "scoring_run_id": pa.array(np.ones(rows, np.int64)),
                     "label": pa.array((probs >= 0.5).astype(np.int16)),
                     "prob_positive": pa.array(probs),
                     "n_tokens": pa.array(np.full(rows, 200, np.int32)),
                     "truncated": pa.array(np.zeros(rows, bool))})


def writer(db: str, chunks: int, rows: int, pause: float, one_transaction: bool) -> None:
    from asaas.store import Store

    store = Store(db)
    if one_transaction:  # the usual way: one connection held for the whole job
        with store.transaction() as conn:
            for k in range(chunks):
                store.insert_arrow(conn, "predictions", _chunk(1 + k * rows, rows))
                time.sleep(pause)
        return
    for k in range(chunks):  # asaas: one short transaction per chunk, model work in between
        with store.transaction() as conn:
            store.insert_arrow(conn, "predictions", _chunk(1 + k * rows, rows),
                               on_conflict_do_nothing=True)
        time.sleep(pause)


def measure(db: str, args: argparse.Namespace, one_transaction: bool) -> list[float]:
    from asaas.tables import query
    from asaas.store import Store

    proc = mp.get_context("spawn").Process(
        target=writer, args=(db, args.chunks, args.chunk_rows, args.pause, one_transaction))
    proc.start()
    time.sleep(1.0)  # let the writer get going
    reader = Store(db, busy_timeout_s=args.busy_timeout)
    waits = []
    for _ in range(args.reads):
        if not proc.is_alive():
            break
        t0 = time.perf_counter()
        try:
            query(reader, "SELECT count(*) FROM predictions")
            waits.append(time.perf_counter() - t0)
        except Exception:  # noqa: BLE001 - busy past the timeout counts as the full timeout
            waits.append(float("inf"))
        time.sleep(0.05)
    proc.join()
    return waits


def _summary(waits: list[float]) -> str:
    finite = [w for w in waits if w != float("inf")]
    failed = len(waits) - len(finite)
    if not finite:
        return f"{len(waits)} reads, all refused (database busy past the timeout)"
    return (f"{len(waits)} reads: median {statistics.median(finite) * 1000:.0f} ms, "
            f"max {max(finite) * 1000:.0f} ms, refused {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=120)
    parser.add_argument("--chunk-rows", type=int, default=8192)
    parser.add_argument("--pause", type=float, default=0.1, help="model time between commits")
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument("--busy-timeout", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for label, one in (("asaas (short transactions)", False), ("one long transaction", True)):
            db = str(Path(tmp) / f"{one}.duckdb")
            _setup(db, args.chunks * args.chunk_rows)
            results[label] = measure(db, args, one)
    for label, waits in results.items():
        print(f"{label:28s} {_summary(waits)}")


if __name__ == "__main__":
    main()
