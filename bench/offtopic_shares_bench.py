"""Corrected off-topic shares of an incident never seen in training, against its annotations.

What `asaas alerts show` reports for an alert is the share of its reviews the off-topic
classifier says yes to, corrected for the classifier's error rates (s, f) measured by leaving
one incident out (asaas.offtopic.shares). This checks that on the six annotated incidents
(../shared/data/steam/meckl_review_bombing_annotated_steam_metacritic.parquet): for each incident
in turn, the classifier is trained on the other five, s and f come from a leave-one-incident-out
evaluation inside those five, and the held-out incident's share is estimated raw
(classify-and-count) and corrected, with the corrected share's 95% interval, against the share
its annotators gave. Reported per label: mean absolute error raw and corrected, and how many of
the six intervals hold the annotated share.

    ASAAS_MINILM=../shared/models/all-MiniLM-L6-v2-bf16 nice -n 10 .venv/bin/python \\
        bench/offtopic_shares_bench.py [--features tfidf,minilm,e5,burst] [--home DIR]

Embeddings come from asaas' embedding cache under --home (ASAAS_HOME/embeddings): the same
vectors `asaas train offtopic` computed there.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import _r20  # noqa: E402

from asaas.offtopic import shares as sh  # noqa: E402
from asaas.offtopic.data import KNOWN_LABELS, load_annotations  # noqa: E402
from asaas.offtopic.embedding import embedder  # noqa: E402
from asaas.offtopic.features import EMBEDDING_BLOCKS, burst_features  # noqa: E402
from asaas.offtopic.model import fit_model  # noqa: E402
from asaas.offtopic.train import leave_one_incident_out, read_background  # noqa: E402


def subset(data, rows: np.ndarray):
    return replace(data, texts=[data.texts[i] for i in rows], groups=data.groups[rows],
                   labels={k: v[rows] for k, v in data.labels.items()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", default="tfidf,minilm,e5,burst")
    ap.add_argument("--labels", default=",".join(KNOWN_LABELS))
    ap.add_argument("--home", default=str(ROOT / "bench" / "out" / "offtopic-real" / "home"))
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    features = args.features.split(",")
    labels = {k: KNOWN_LABELS[k] for k in args.labels.split(",")}
    data = load_annotations(_r20.BOMBS, labels)
    emb = {b: embedder(b, home=args.home, threads=1)[0](data.texts)
           for b in features if b in EMBEDDING_BLOCKS}
    emb = {b: np.asarray(v, dtype=np.float64) for b, v in emb.items()}
    burst_labels = ["bomb"] if "burst" in features and "bomb" in labels else []
    burst = None
    if burst_labels:
        burst = burst_features(data.texts, data.groups, read_background(str(_r20.GAMES), 5000))
    rows = []
    t0 = time.time()
    for incident in data.incidents:
        train = np.flatnonzero(data.groups != incident)
        test = np.flatnonzero(data.groups == incident)
        inner = leave_one_incident_out(subset(data, train), features,
                                       {b: m[train] for b, m in emb.items()},
                                       burst[train] if burst is not None else None,
                                       burst_labels)
        model = fit_model([data.texts[i] for i in train], data.groups[train],
                          {k: v[train] for k, v in data.labels.items()}, features,
                          {b: m[train] for b, m in emb.items()},
                          burst=burst[train] if burst is not None else None,
                          burst_labels=burst_labels)
        texts = [data.texts[i] for i in test]
        e_te = {b: m[test] for b, m in emb.items()}
        scores = model.text_scores(texts, e_te)
        if burst is not None and model.burst_labels:
            mean, scale = model.scalers["burst"]
            x = (burst[test] - mean) / scale
            for label in model.burst_labels:
                k = len(model.members[label])
                extra = sum(m.decision(x) / m.scale for m in model.context[label])
                scores[f"{label}+burst"] = (k * scores[label] + extra) / (k + 1)
        for key, s in scores.items():
            label = key.split("+")[0]
            truth = float(data.labels[label][test].mean())
            k = int((s >= 0).sum())
            share = sh.share_of(label, k, len(test), sh.Rates.from_summary(inner[key]))
            rows.append({"label": key, "incident": incident, "n": len(test), "truth": truth,
                         "raw": share.raw, "corrected": share.corrected, "low": share.low,
                         "high": share.high,
                         "covered": share.low is not None and share.low <= truth <= share.high})
        print(f"[shares] {incident} done ({time.time() - t0:.0f} s)", file=sys.stderr,
              flush=True)
    res = pd.DataFrame(rows)
    table = res.assign(**{
        "truth": res.truth.map("{:.2f}".format), "raw": res.raw.map("{:.2f}".format),
        "corrected (95% CI)": [f"{c:.2f} ({lo:.2f}-{hi:.2f})" if c is not None and c == c
                               else "-" for c, lo, hi in zip(res.corrected, res.low, res.high)],
    })[["label", "incident", "n", "truth", "raw", "corrected (95% CI)", "covered"]]
    print(f"\n### held-out incident shares ({args.features})\n")
    print(_r20.markdown(table))
    summary = res.groupby("label", sort=False).apply(lambda g: pd.Series({
        "mean abs error raw": f"{(g.raw - g.truth).abs().mean():.3f}",
        "mean abs error corrected": f"{(g.corrected.astype(float) - g.truth).abs().mean():.3f}",
        "intervals holding the truth": f"{int(g.covered.sum())}/{len(g)}"}))
    print("\n### summary\n")
    print(_r20.markdown(summary.reset_index()))


if __name__ == "__main__":
    main()
