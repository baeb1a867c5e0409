"""What keeping later edits costs: a re-ingest of the Steam file with 1% of its reviews changed,
with change history (compare, update, review_history) against a plain re-ingest (ids looked up,
present rows skipped: asaas before issue 19 item 2), measured in the same run.

    python bench/edits_bench.py [--steam-file ../shared/data/steam/woctezuma_...parquet]
        [--changed 0.01] [--repeat 3] [--tmp /tmp]

The file is ingested once (``--format steam``) into a DuckDB file; a copy of the file with
``--changed`` of its reviews edited (a third flipped with a developer answer and an edited text,
a third answered, a third with new votes) is then re-ingested into fresh copies of that database,
alternating plain and history runs (the box is shared: alternating spreads its load over both).
Target (issue 19): history under 2x the plain re-ingest.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from asaas.ingest import IngestOptions, ingest
from asaas.ingest.writer import ReviewWriter
from asaas.store import open_store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_STEAM = SHARED / "steam" / "woctezuma_steam_reviews_80games_2010-2018.parquet"


def edited_copy(source: Path, target: Path, share: float) -> int:
    """``source`` with every ``1 / share``-th review changed; returns how many."""
    table = pq.read_table(source)
    n = table.num_rows
    step = max(1, round(1 / share))
    rows = list(range(0, n, step))
    kinds = {i: k % 3 for k, i in enumerate(rows)}
    cols = {name: table.column(name).to_pylist() for name in (
        "voted_up", "review", "timestamp_updated", "developer_response",
        "timestamp_dev_responded", "votes_up")}
    for i, kind in kinds.items():
        if kind in (0, 1):  # answered
            cols["developer_response"][i] = "Thanks, fixed in the last patch."
            cols["timestamp_dev_responded"][i] = float(cols["timestamp_updated"][i] + 3600)
        if kind == 0:  # ... and the author turned positive, editing the text
            cols["voted_up"][i] = True
            cols["review"][i] = (cols["review"][i] or "") + " EDIT: fixed, thanks devs."
            cols["timestamp_updated"][i] = cols["timestamp_updated"][i] + 7200
        if kind == 2:
            cols["votes_up"][i] = (cols["votes_up"][i] or 0) + 3
    for name, values in cols.items():
        table = table.set_column(table.schema.get_field_index(name), name,
                                 pa.array(values, table.schema.field(name).type))
    pq.write_table(table, target)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steam-file", default=str(DEFAULT_STEAM))
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tmp", default=None)
    args = parser.parse_args()
    options = IngestOptions(format="steam")
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        base = Path(tmp) / "base.duckdb"
        store = open_store(str(base))
        t0 = time.perf_counter()
        first = ingest(store, args.steam_file, options)
        store.engine.dispose()
        print(f"first ingest   : {first.inserted:,} reviews in {time.perf_counter() - t0:.1f} s")
        edited = Path(tmp) / "edited.parquet"
        n = edited_copy(Path(args.steam_file), edited, args.changed)
        print(f"edited copy    : {n:,} of {first.rows_read:,} reviews changed")
        times: dict[str, list[float]] = {"plain": [], "history": []}
        for k in range(args.repeat):
            for mode in (("plain", "history") if k % 2 == 0 else ("history", "plain")):
                db = Path(tmp) / f"{mode}.duckdb"
                shutil.copy(base, db)
                ReviewWriter.track_changes = mode == "history"
                store = open_store(str(db))
                t0 = time.perf_counter()
                report = ingest(store, str(edited), options)
                seconds = time.perf_counter() - t0
                store.engine.dispose()
                times[mode].append(seconds)
                print(f"{mode:<8} run {k + 1}: {seconds:.2f} s, {report.already_present:,} "
                      f"present, {report.updated:,} updated, "
                      f"{sum(report.changes.values()):,} history rows, {report.rescore:,} "
                      "to score again", flush=True)
                db.unlink()
        ReviewWriter.track_changes = True
    plain, hist = statistics.median(times["plain"]), statistics.median(times["history"])
    print(f"median plain {plain:.2f} s, history {hist:.2f} s: {hist / plain:.2f}x "
          "(target: under 2x)")


if __name__ == "__main__":
    main()
