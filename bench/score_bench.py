"""Scoring benchmark: asaas score against the notebook's way, same model, same reviews, same run.

The notebook's way: ``pipeline("text-classification", model, truncation=True, max_length=512)``
over the review texts with its default batch size, then the predictions written to the database
with pandas ``to_sql``. asaas: ``asaas score`` end to end (model load, selection, tokenisation,
length-sorted token-budget batches, database writes). Both include loading the model.

    python bench/score_bench.py --model-dir DIR [--reviews 1000] [--int8] [--device cpu]
    python bench/score_bench.py --model-dir distilbert-random --device cuda --reviews 25000

``--model-dir minilm-random`` / ``distilbert-random`` build a classifier with random weights
(the speed is the same as a trained one; accuracy then means nothing) from the MiniLM copy in
../shared/models, whose vocabulary is bert-base-uncased's, as distilbert-base-uncased's is.
Accuracy figures are only meaningful with a trained model directory.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from asaas.ingest import ingest
from asaas.models.registry import Recipe, register_hf
from asaas.scoring import ScoreOptions, score
from asaas.scoring.selection import iter_pages, selection_for
from asaas.store import open_store

from _models import SHARED, device_name, model_dir_for

def notebook_way(model_dir: str, texts: list[str], device: str) -> tuple[np.ndarray, float]:
    import pandas as pd
    import sqlalchemy as sa
    from transformers import pipeline

    t0 = time.perf_counter()
    pipe = pipeline("text-classification", model=model_dir, tokenizer=model_dir,
                    device=0 if device == "cuda" else -1, truncation=True, max_length=512)
    outs = pipe(texts)
    probs = np.array([o["score"] if o["label"] == "POSITIVE" else 1 - o["score"] for o in outs])
    with tempfile.TemporaryDirectory() as tmp:
        engine = sa.create_engine(f"duckdb:///{tmp}/notebook.duckdb")
        frame = pd.DataFrame({"review": range(len(texts)), "prob_positive": probs,
                              "label": (probs >= 0.5).astype(int)})
        with engine.begin() as conn:
            frame.to_sql("predictions", conn, index=False)
        engine.dispose()
    return probs, time.perf_counter() - t0


def asaas_way(store, name: str, model_dir: str, n: int, device: str, quantize: str | None,
              batch_tokens: int | None) -> tuple[dict[int, float], float]:
    # int8 is part of a version's scoring recipe: registered with it, not asked for per run.
    mv = register_hf(store, name, model_dir, recipe=Recipe(512, "head", quantize))
    t0 = time.perf_counter()
    report = score(store, mv, ScoreOptions(splits=["test"], limit=n, device=device,
                                           batch_tokens=batch_tokens, progress=False))
    seconds = time.perf_counter() - t0
    assert report.scored == n, report
    with store.transaction() as conn:
        rows = conn.exec_driver_sql("SELECT review_id, prob_positive FROM predictions "
                                    f"WHERE model_version_id = {mv.id}").fetchall()
    return dict(rows), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True,
                        help="trained HF classifier folder, or minilm-random / distilbert-random")
    parser.add_argument("--source", default=str(SHARED / "data" / "imdb" / "test.parquet"))
    parser.add_argument("--reviews", type=int, default=1000)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--int8", action="store_true", help="also time --quantize int8 (CPU)")
    parser.add_argument("--batch-tokens", type=int, default=None)
    parser.add_argument("--skip-notebook", action="store_true")
    parser.add_argument("--notebook-reviews", type=int, default=None,
                        help="run the notebook's way on only the first N of the same reviews "
                             "(its rate is compared; it is slow on a GPU at batch size 1)")
    parser.add_argument("--json", default=None, help="write the figures to this file too")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model_dir_for(args.model_dir, Path(tmp))
        store = open_store(str(Path(tmp) / "bench.duckdb"))
        ingest(store, args.source, splits=["test"])
        mv_probe = register_hf(store, "probe", model_dir)
        # The reviews a run would score, in its order, all at once.
        sel = selection_for(store, mv_probe, ScoreOptions(limit=args.reviews))
        ids, texts = [], []
        for page in iter_pages(store, sel, 1 << 20):
            ids, texts = ids + page.ids, texts + page.texts
        with store.transaction() as conn:
            truth = dict(conn.exec_driver_sql("SELECT id, label FROM reviews").fetchall())
        labels = np.array([truth[i] for i in ids])
        results: dict[str, dict] = {}

        def record(name: str, probs: np.ndarray, seconds: float, k: int | None = None) -> None:
            k = k or len(ids)
            results[name] = {"reviews": k, "seconds": round(seconds, 2),
                             "reviews_per_s": round(k / seconds, 1),
                             "accuracy": round(float(np.mean((probs >= 0.5) == labels[:k])), 4)}

        probs, secs = asaas_way(store, "asaas-fp32", model_dir, args.reviews, args.device, None,
                                args.batch_tokens)
        fp32 = np.array([probs[i] for i in ids])
        main_name = "asaas fp32" if args.device == "cpu" else "asaas bf16"  # autocast on CUDA
        record(main_name, fp32, secs)
        if args.int8:
            probs, secs = asaas_way(store, "asaas-int8", model_dir, args.reviews, "cpu", "int8",
                                    args.batch_tokens)
            record("asaas int8", np.array([probs[i] for i in ids]), secs)
        if not args.skip_notebook:
            k = min(args.notebook_reviews or len(texts), len(texts))
            nb_probs, secs = notebook_way(model_dir, texts[:k], args.device)
            record("notebook pipeline", nb_probs, secs, k)
            results["notebook pipeline"]["max_abs_diff_vs_asaas_fp32"] = float(
                np.max(np.abs(nb_probs - fp32[:k])))

    device = device_name(args.device)
    print(f"{args.reviews:,} IMDB test reviews, model {args.model_dir}, device {device}")
    base = results.get("notebook pipeline")
    for name, r in results.items():
        ratio = f"{r['reviews_per_s'] / base['reviews_per_s']:.2f}x" if base else "-"
        print(f"  {name:18s} {r['reviews']:6,} reviews {r['seconds']:8.2f} s  "
              f"{r['reviews_per_s']:8.1f} reviews/s  "
              f"accuracy {r['accuracy']:.4f}  vs notebook {ratio}")
    if "asaas int8" in results:
        cost = results[main_name]["accuracy"] - results["asaas int8"]["accuracy"]
        print(f"  int8 accuracy cost: {100 * cost:.2f} points")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "reviews": args.reviews,
                                               "results": results}, indent=2))


if __name__ == "__main__":
    main()
