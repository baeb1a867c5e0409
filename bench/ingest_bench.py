"""Ingest benchmarks: asaas ingest against the usual pandas way, measured in the same run.

The usual way: read the Parquet file(s) with pandas and ``DataFrame.to_sql`` through SQLAlchemy
into the same DuckDB schema (rows go through executemany). It is far too slow for every row, so
it is measured on a slice and compared in rows per second.

    python bench/ingest_bench.py [--source ../shared/data/imdb] [--usual-rows 2000]
    python bench/ingest_bench.py --steam [--steam-file ../shared/data/steam/woctezuma_...parquet]
    python bench/ingest_bench.py --memory 1000000,5000000 [--tmp /tmp] [--postgres URL]
        [--without-writes]

``--steam``: the full Steam ingest (``--format steam --split-before 2017-07-01``: 189,235 reviews
of 80 games, products, times, languages, developer responses) into a fresh DuckDB file.

``--memory``: peak RSS of ``asaas ingest`` (a child process each) on generated Parquet files of
N short reviews, against pandas ``read_parquet`` of the same file (the usual way's first step,
which holds the whole file). Flat memory means the ratio between sizes stays near 1. The files
go to a temporary folder (``--tmp``), deleted afterwards. ``--postgres`` adds the client's peak
against a PostgreSQL server; ``--without-writes`` adds asaas' own side alone (database writes and
id lookups stubbed out).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from asaas.ingest import IngestOptions, ingest
from asaas.store import open_store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_SOURCE = SHARED / "imdb"
DEFAULT_STEAM = SHARED / "steam" / "woctezuma_steam_reviews_80games_2010-2018.parquet"


def _usual(tmp: str, df: pd.DataFrame, dataset: str) -> float:
    """Seconds pandas to_sql takes for ``df`` (already in the reviews table's shape)."""
    usual = open_store(str(Path(tmp) / "usual.duckdb"))
    with usual.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO ingest_runs (id, dataset, source, status, started_at) "
            f"VALUES (1, '{dataset}', 'bench', 'succeeded', now())")
    t0 = time.perf_counter()
    with usual.engine.begin() as conn:
        df.to_sql("reviews", conn, if_exists="append", index=False)
    return time.perf_counter() - t0


def imdb(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "asaas.duckdb"))
        t0 = time.perf_counter()
        report = ingest(store, args.source)
        asaas_s = time.perf_counter() - t0
        frames = [pd.read_parquet(p) for p in sorted(Path(args.source).glob("*.parquet"))]
        df = pd.concat(frames).head(args.usual_rows)
        df = pd.DataFrame({
            "id": range(1, len(df) + 1), "dataset": "imdb", "external_id": df["id"],
            "split": df["split"], "text": df["text"], "label": df["label"].where(df["label"] >= 0),
            "rating": df["rating"], "content_hash": "x", "ingest_run_id": 1,
        })
        usual_s = _usual(tmp, df, "imdb")
    _print(report.inserted, asaas_s, len(df), usual_s, "(target: all 100,000 in under 30 s)")


def steam(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(str(Path(tmp) / "asaas.duckdb"))
        t0 = time.perf_counter()
        report = ingest(store, args.steam_file, IngestOptions(format="steam"),
                        split_before=pd.Timestamp("2017-07-01").to_pydatetime())
        asaas_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        full = pd.read_parquet(args.steam_file)
        read_s = time.perf_counter() - t1
        df = full.head(args.usual_rows)
        # The usual way stores the same review facts; it leaves products out (asaas also creates
        # the 80 products and links every review to its game).
        when = pd.to_datetime(df["timestamp_created"], unit="s")
        df = pd.DataFrame({
            "id": range(1, len(df) + 1), "dataset": "steam", "external_id": df["recommendationid"],
            "split": (when < pd.Timestamp("2017-07-01")).map({True: "train", False: "test"}),
            "text": df["review"], "label": df["voted_up"].astype(int), "content_hash": "x",
            "ingest_run_id": 1, "reviewed_at": when, "language": df["language"],
            "early_access": df["written_during_early_access"],
            "developer_response": df["developer_response"],
            "developer_responded_at": pd.to_datetime(df["timestamp_dev_responded"], unit="s"),
        })
        # Reading the whole file is part of the usual way: its share for the slice counts.
        usual_s = _usual(tmp, df, "steam") + read_s * len(df) / len(full)
    print(f"steam ingest   : {report.rows_read:,} rows read, {report.inserted:,} inserted "
          f"({', '.join(f'{k} {v:,}' for k, v in report.inserted_by_split.items())}), "
          f"{report.rows_rejected:,} rejected, {report.products} products")
    _print(report.inserted, asaas_s, len(df), usual_s, "")


def _print(rows: int, asaas_s: float, usual_rows: int, usual_s: float, target: str) -> None:
    asaas_rate, usual_rate = rows / asaas_s, usual_rows / usual_s
    print(f"asaas ingest   : {rows:,} rows in {asaas_s:.2f} s = {asaas_rate:,.0f} rows/s {target}")
    print(f"pandas to_sql  : {usual_rows:,} rows in {usual_s:.2f} s = {usual_rate:,.0f} rows/s")
    print(f"ratio          : {asaas_rate / usual_rate:.1f}x the usual way's rows/s")


# -- memory --------------------------------------------------------------------------------------

_CHILD = """
import json, resource, sys, time, uuid
mode, path, db = sys.argv[1:4]
t0 = time.perf_counter()
if mode.startswith("asaas"):
    import sqlalchemy as sa
    from asaas.ingest import ingest
    from asaas.store import Store, open_store
    admin = None
    if mode == "asaas-postgres":
        # db is a server URL: a fresh database for this run, dropped afterwards.
        admin = sa.create_engine(db, isolation_level="AUTOCOMMIT")
        name = f"asaas_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        db = admin.url.set(database=name).render_as_string(hide_password=False)
    if mode == "asaas-nowrite":
        # asaas' own side alone: reading, validating and building the batches.
        from asaas.ingest.writer import ReviewWriter
        Store.insert_arrow = lambda self, conn, table, data, *a, **k: data.num_rows
        ReviewWriter.stored = lambda self, ids: {}
    t0 = time.perf_counter()
    store = open_store(db)
    rows = ingest(store, path).inserted
    store.engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE {name}"))
else:
    import pandas as pd
    rows = len(pd.read_parquet(path))
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - t0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _write_reviews(path: Path, n: int) -> None:
    """n short reviews (ids, text, label) in row groups of 100,000, written in pieces."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    words = ("good", "bad", "great", "awful", "fine", "boring", "fun", "slow", "loved", "meh")
    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("label", pa.int8())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, n, 100_000):
            ids = range(start, min(n, start + 100_000))
            writer.write_table(pa.table({
                "id": [f"r{i}" for i in ids],
                "text": [f"review {i}: {words[i % 10]} game, {words[(i * 7) % 10]} story"
                         for i in ids],
                "label": [i % 2 for i in ids]}, schema=schema))


def memory(args: argparse.Namespace) -> None:
    sizes = [int(s.replace("_", "")) for s in args.memory.split(",")]
    modes = ["asaas"] + (["asaas-postgres"] if args.postgres else []) + (
        ["asaas-nowrite"] if args.without_writes else []) + ["pandas"]
    results: dict[int, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for n in sizes:
            path = Path(tmp) / f"reviews_{n}.parquet"
            _write_reviews(path, n)
            results[n] = {}
            for mode in modes:
                db = args.postgres if mode == "asaas-postgres" else Path(tmp) / f"mem_{n}.duckdb"
                out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(path), str(db)],
                                     check=True, capture_output=True, text=True)
                results[n][mode] = json.loads(out.stdout.strip().splitlines()[-1])
                r = results[n][mode]
                print(f"{n:>11,} rows  {mode:<14}: peak RSS {r['peak_mb']:,.0f} MB, "
                      f"{r['seconds']:.1f} s", flush=True)
            path.unlink()
            for f in Path(tmp).glob(f"mem_{n}.duckdb*"):
                f.unlink()
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        for mode in modes:
            ratio = results[big][mode]["peak_mb"] / results[small][mode]["peak_mb"]
            print(f"{mode:<14} peak RSS at {big:,} / at {small:,} rows: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--usual-rows", type=int, default=2000)
    parser.add_argument("--steam", action="store_true", help="the full Steam ingest")
    parser.add_argument("--steam-file", default=str(DEFAULT_STEAM))
    parser.add_argument("--memory", metavar="N,N", help="peak RSS at these corpus sizes")
    parser.add_argument("--tmp", default=None, help="folder for the generated files")
    parser.add_argument("--postgres", metavar="URL",
                        help="--memory also into a fresh database on this PostgreSQL server "
                        "(URL of a database the user may CREATE DATABASE from)")
    parser.add_argument("--without-writes", action="store_true",
                        help="--memory also with the database writes and lookups stubbed out: "
                        "asaas' own side alone")
    args = parser.parse_args()
    if args.memory:
        memory(args)
    elif args.steam:
        steam(args)
    else:
        imdb(args)


if __name__ == "__main__":
    main()
