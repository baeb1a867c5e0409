"""skops (the safe format) against joblib (a pickle behind asaas' checksum) for the tfidf-lr
pipeline: file size, save and load time. Why asaas keeps joblib: see docs/security.md, "How artifacts
are verified". skops needs `pip install skops`; it is not an asaas dependency.

    python bench/skops_bench.py [--train ../shared/data/imdb/train.parquet] [--rows 25000]
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import joblib
import pyarrow.parquet as pq

from asaas.training.baselines import tfidf_lr_pipeline

TRUSTED = ["asaas.training.baselines.NBScaler", "asaas.training.baselines.strip_html"]


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb" / "train.parquet"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=default, help="Parquet file of reviews.")
    parser.add_argument("--rows", type=int, default=25_000, help="Reviews to fit on.")
    args = parser.parse_args()
    import skops.io as sio

    data = pq.read_table(args.train, columns=["text", "label"]).slice(0, args.rows).to_pydict()
    pipeline = tfidf_lr_pipeline().fit(data["text"], data["label"])
    print(f"vocabulary: {len(pipeline.steps[0][1].vocabulary_):,} terms")
    t0 = time.perf_counter()
    blob = sio.dumps(pipeline)
    t1 = time.perf_counter()
    sio.loads(blob, trusted=TRUSTED)
    t2 = time.perf_counter()
    buf = io.BytesIO()
    joblib.dump(pipeline, buf)
    t3 = time.perf_counter()
    buf.seek(0)
    joblib.load(buf)
    t4 = time.perf_counter()
    size = buf.getbuffer().nbytes
    print(f"skops:  {len(blob) / 1e6:.1f} MB, save {t1 - t0:.1f} s, load {t2 - t1:.1f} s")
    print(f"joblib: {size / 1e6:.1f} MB, save {t3 - t2:.1f} s, load {t4 - t3:.1f} s")
    print(f"skops/joblib: size {len(blob) / size:.1f}x, load {(t2 - t1) / (t4 - t3):.1f}x")


if __name__ == "__main__":
    main()
