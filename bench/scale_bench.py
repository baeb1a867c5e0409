"""Scale benchmark: peak memory and rate of ingest and scoring as the corpus grows.

For each size (default 1,000,000 and 5,000,000 synthetic reviews of 10-80 words) it writes a
Parquet file, then in fresh processes measures:
- `asaas ingest` of the file into a new DuckDB database (peak RSS, rows/s);
- `asaas score` of all of them with a tfidf-lr model trained on 20,000 separate reviews
  (peak RSS, reviews/s, including the database writes);
- the usual way for comparison: pandas `read_parquet` of the whole file, then the same
  pipeline's `predict_proba` over every text at once (peak RSS, reviews/s; no database).
Target: asaas's peak RSS at the largest size within 1.3x of the smallest.

    python bench/scale_bench.py [--sizes 1000000 5000000] [--workdir /tmp/asaas-scale]
    python bench/scale_bench.py --db postgresql://...   (each size into a fresh database there)

Every measured step runs in its own process, so one step's memory never inflates another's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

WORDS = ("good great fun loved best bad awful boring worst broken game story music level boss "
         "controls price update patch bug crash fix devs early access content hours friends "
         "multiplayer graphics sound money refund recommend again never always really very "
         "the a and it is this was but not too so of to in for with on at").split()


def write_reviews(path: Path, n: int, seed: int, prefix: str = "r") -> None:
    """n synthetic reviews (id, text, label) written in 100k-row batches: the generator never
    holds the corpus either."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    vocab = np.array(WORDS)
    positive = np.isin(vocab, ["good", "great", "fun", "loved", "best", "recommend"])
    writer = None
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        labels = rng.random(m) < 0.8
        lengths = rng.integers(10, 81, m)
        texts = []
        for label, length in zip(labels, lengths):
            words = rng.choice(vocab, length)
            # The label leaks through a few sentiment words, so the model has something to learn.
            cue = vocab[positive] if label else vocab[~positive][:6]
            words[: 3] = rng.choice(cue, 3)
            rng.shuffle(words)
            texts.append(" ".join(words))
        table = pa.table({"id": [f"{prefix}{start + i}" for i in range(m)], "text": texts,
                          "label": labels.astype("int8")})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


# Peak RSS from VmHWM, which starts afresh at exec; getrusage's ru_maxrss would carry over the
# parent's size from before the fork (Linux keeps it across execve).
CHILD = """
import json, sys, time
t0 = time.perf_counter()
{body}
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({{"seconds": time.perf_counter() - t0, "peak_rss_mb": int(hwm) / 1024,
                  **extra}}))
"""

ASAAS_INGEST = """
from asaas.ingest import ingest
from asaas.store import open_store
report = ingest(open_store(sys.argv[1]), sys.argv[2], dataset="scale", splits=["test"])
extra = {"rows": report.inserted}
"""

ASAAS_SCORE = """
from asaas.models.registry import get_version
from asaas.scoring import ScoreOptions, score
from asaas.store import open_store
store = open_store(sys.argv[1])
report = score(store, get_version(store, "tfidf-lr"),
               ScoreOptions(dataset="scale", splits=["test"], progress=False))
extra = {"rows": report.scored}
"""

USUAL = """
import pandas as pd
from asaas.models.registry import get_version
from asaas.models.sklearn_models import load_pipeline
from asaas.store import open_store
pipeline = load_pipeline(get_version(open_store(sys.argv[1]), "tfidf-lr").artifact_uri)
frame = pd.read_parquet(sys.argv[2])
probs = pipeline.predict_proba(frame["text"].tolist())[:, 1]
extra = {"rows": len(probs)}
"""


def measure(body: str, *args: str) -> dict:
    code = CHILD.format(body=textwrap.indent(textwrap.dedent(body), ""))
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"step failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--workdir", default=None, help="scratch folder [default: a temp dir]")
    parser.add_argument("--db", default=None,
                        help="PostgreSQL URL of a server to use instead of DuckDB files (a "
                             "database per size is created next to the one in the URL)")
    parser.add_argument("--skip-usual", action="store_true")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="asaas-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    train = work / "train.parquet"
    if not train.exists():
        write_reviews(train, 20_000, seed=1, prefix="t")
    for n in args.sizes:
        data = work / f"size-{n}" / "test.parquet"  # the file name gives the split
        data.parent.mkdir(exist_ok=True)
        if not data.exists():
            t0 = time.perf_counter()
            write_reviews(data, n, seed=n)
            print(f"wrote {n:,} reviews in {time.perf_counter() - t0:.0f} s", flush=True)
        db = _fresh_db(args.db, work, n)
        os.environ["ASAAS_HOME"] = str(work / f"home-{n}")
        from asaas.ingest import ingest
        from asaas.store import open_store
        from asaas.training.baselines import train_baseline

        store = open_store(db)
        ingest(store, str(train), dataset="scale", splits=["train"])
        train_baseline(store, "tfidf-lr", work / f"home-{n}", dataset="scale")
        row = {"n": n, "ingest": measure(ASAAS_INGEST, db, str(data))}
        print(f"{n:,}: ingest {row['ingest']}", flush=True)
        row["score"] = measure(ASAAS_SCORE, db)
        print(f"{n:,}: score {row['score']}", flush=True)
        if not args.skip_usual:
            row["usual"] = measure(USUAL, db, str(data))
            print(f"{n:,}: usual way {row['usual']}", flush=True)
        results.append(row)
        if args.db is None:
            Path(db).unlink(missing_ok=True)
            shutil.rmtree(work / f"home-{n}", ignore_errors=True)
    print()
    print("| reviews | ingest rows/s | ingest peak RSS | score reviews/s | score peak RSS | "
          "usual way reviews/s | usual way peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        usual = r.get("usual")
        print(f"| {r['n']:,} | {r['ingest']['rows'] / r['ingest']['seconds']:,.0f} | "
              f"{r['ingest']['peak_rss_mb']:,.0f} MB | "
              f"{r['score']['rows'] / r['score']['seconds']:,.0f} | "
              f"{r['score']['peak_rss_mb']:,.0f} MB | "
              + (f"{usual['rows'] / usual['seconds']:,.0f} | {usual['peak_rss_mb']:,.0f} MB |"
                 if usual else "- | - |"))
    if len(results) > 1:
        a, b = results[0], results[-1]
        for step in ("ingest", "score", "usual"):
            if step in a and step in b:
                print(f"peak RSS {step}: {b['n']:,} / {a['n']:,} reviews = "
                      f"{b[step]['peak_rss_mb'] / a[step]['peak_rss_mb']:.2f}x"
                      + (" (target <= 1.3x)" if step != "usual" else ""))


def _fresh_db(url: str | None, work: Path, n: int) -> str:
    if url is None:
        path = work / f"scale-{n}.duckdb"
        path.unlink(missing_ok=True)
        return str(path)
    import uuid

    import sqlalchemy as sa

    name = f"asaas_scale_{n}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return str(sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False))


if __name__ == "__main__":
    main()
