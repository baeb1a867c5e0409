"""Write the issue-20 research's stratified Steam test sample as a Steam file asaas can ingest.

e5 embeds a few reviews a second on this CPU, so e5-stack is measured on a sample of the test
period (on/after 2017-07-01) rather than all 45,102 reviews: every negative of each language
with at least 300 test reviews (English: 600) and 300 positives each, 5,461 reviews
(bench/multilingual_bench.py's ``test_sample``, the same draw). Balanced accuracy and ROC AUC do
not depend on the class mix, so per language they estimate the whole test period's without
bias, with more negatives (tighter intervals) than a random sample of the same size. The
research cached these reviews' e5 vectors (bench/seed_e5_cache.py copies them into asaas'
cache), so scoring them costs minutes, not hours.

    python bench/e5_test_sample.py --out bench/out/i20/steam-test-sample.parquet
    asaas ingest --format steam --dataset steam-sample --split-before 2017-07-01 \
        --source bench/out/i20/steam-test-sample.parquet
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _r20  # noqa: E402
import multilingual_bench as mb  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    df = _r20.games()
    langs = mb.eval_languages(df)
    sample = mb.test_sample(df, langs)
    raw = pd.read_parquet(_r20.GAMES)
    keep = raw[raw.recommendationid.isin(set(sample.recommendationid))]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    keep.to_parquet(args.out, index=False)
    counts = sample.groupby("language").negative.agg(["size", "sum"])
    print(f"{len(keep):,} reviews in {len(langs)} languages -> {args.out}")
    print(counts.sort_values("size", ascending=False).to_string())


if __name__ == "__main__":
    main()
