"""Train the off-topic classifier: the leave-one-incident-out evaluation, then the final fit on
every incident, registered as one version holding every label (``asaas train offtopic``).

The evaluation is the honest one for this data: reviews of one incident share its words (the
game's name, the controversy), so a random split would reward memorising incidents. Each
incident is held out in turn, the whole recipe (TF-IDF vocabulary, scalers, the choice of C, the
regressions) is fitted on the others, and the held-out incident is scored. Per incident and
label: ROC AUC with its Hanley-McNeil 95% interval and balanced accuracy at the class-balanced
threshold with a normal 95% interval; then the mean and the worst incident. The held-out
predictions pooled over every incident give the error rates that correct shares later
(``asaas.offtopic.shares``): s = P(yes predicted | yes), f = P(yes predicted | no).

Labels trained with the burst block are evaluated twice: from the text blocks alone (what
``asaas score`` stores per review) and with the burst (what ``asaas alerts show`` computes for
an alert's reviews); each has its own error rates.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asaas.errors import ConfigError
from asaas.models import registry
from asaas.models.registry import ModelVersion
from asaas.offtopic import KIND
from asaas.offtopic.data import Annotations
from asaas.offtopic.features import EMBEDDING_BLOCKS, EmbedFn, burst_features
from asaas.offtopic.model import OfftopicModel, fit_model
from asaas.store import Store
from asaas.training.artifacts import staged_artifact

Z95 = 1.959963984540054
#: Labels that get the burst block when ``burst`` is among the features (the research: it lifts
#: "review bomb" from 0.857 to 0.880 mean AUC and lowers "about the game" and the categories).
DEFAULT_BURST_LABELS = ("bomb",)


def auc_interval(y: np.ndarray, score: np.ndarray) -> tuple[float, float, float]:
    """ROC AUC and its 95% Hanley-McNeil interval (nan without both classes)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return (math.nan, math.nan, math.nan)
    a = float(roc_auc_score(y, score))
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    se = math.sqrt(max(var, 0.0))
    return (a, max(0.0, a - Z95 * se), min(1.0, a + Z95 * se))


def balanced_accuracy_interval(y: np.ndarray, predicted: np.ndarray
                               ) -> tuple[float, float, float]:
    """Balanced accuracy and a 95% normal interval from its two rates (each rate's variance
    from its Agresti-Coull estimate, so a rate of 0 or 1 still has some)."""
    y, p = np.asarray(y).astype(bool), np.asarray(predicted).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return (math.nan, math.nan, math.nan)
    k1, k0 = int((p & y).sum()), int((~p & ~y).sum())
    ba = (k1 / n1 + k0 / n0) / 2
    a1, a0 = (k1 + 2) / (n1 + 4), (k0 + 2) / (n0 + 4)
    se = 0.5 * math.sqrt(a1 * (1 - a1) / (n1 + 4) + a0 * (1 - a0) / (n0 + 4))
    return (ba, max(0.0, ba - Z95 * se), min(1.0, ba + Z95 * se))


@dataclass
class TrainReport:
    version: ModelVersion
    evaluation: dict[str, Any]
    seconds: float
    embed_seconds: float
    rows: int
    dropped_empty: int


def _round(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), 4)


def _fold_rows(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    auc, ba = auc_interval(y, score), balanced_accuracy_interval(y, score >= 0)
    pred = score >= 0
    return {"n": int(len(y)), "positives": int(y.sum()), "tp": int((pred & (y == 1)).sum()),
            "fp": int((pred & (y == 0)).sum()), "auc": _round(auc[0]),
            "auc_low": _round(auc[1]), "auc_high": _round(auc[2]), "ba": _round(ba[0]),
            "ba_low": _round(ba[1]), "ba_high": _round(ba[2])}


def summarise(folds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean and worst over the held-out incidents, and the pooled error rates."""
    aucs = [f["auc"] for f in folds.values() if f["auc"] is not None]
    bas = [f["ba"] for f in folds.values() if f["ba"] is not None]
    pos = sum(f["positives"] for f in folds.values())
    neg = sum(f["n"] - f["positives"] for f in folds.values())
    tp, fp = sum(f["tp"] for f in folds.values()), sum(f["fp"] for f in folds.values())
    measured = [k for k in folds if folds[k]["auc"] is not None]
    worst = min(measured, key=lambda k: folds[k]["auc"]) if measured else None
    return {"mean_auc": _round(float(np.mean(aucs))) if aucs else None,
            "worst_auc": _round(min(aucs)) if aucs else None, "worst_incident": worst,
            "mean_ba": _round(float(np.mean(bas))) if bas else None,
            "n_positive": pos, "n_negative": neg, "tp": tp, "fp": fp,
            "hit_rate": _round(tp / pos) if pos else None,
            "false_alarm_rate": _round(fp / neg) if neg else None,
            "incidents": folds}


def leave_one_incident_out(data: Annotations, features: Sequence[str],
                           emb: dict[str, np.ndarray], burst: np.ndarray | None,
                           burst_labels: Sequence[str], *,
                           log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """{label: summary} for the text blocks, and {label+'+burst': summary} for labels with the
    burst block; see the module docstring."""
    scores: dict[str, np.ndarray] = {}
    incidents = data.incidents
    for label in data.labels:
        scores[label] = np.zeros(len(data.texts))
        if label in burst_labels and burst is not None:
            scores[f"{label}+burst"] = np.zeros(len(data.texts))
    for k, incident in enumerate(incidents, 1):
        held = data.groups == incident
        train = np.flatnonzero(~held)
        test = np.flatnonzero(held)
        texts_tr = [data.texts[i] for i in train]
        model = fit_model(texts_tr, data.groups[train],
                          {name: y[train] for name, y in data.labels.items()}, features,
                          {b: m[train] for b, m in emb.items()},
                          burst=burst[train] if burst is not None else None,
                          burst_labels=burst_labels)
        texts_te = [data.texts[i] for i in test]
        emb_te = {b: m[test] for b, m in emb.items()}
        for label, s in model.text_scores(texts_te, emb_te).items():
            scores[label][test] = s
        if model.burst_labels:
            assert burst is not None
            mean, scale = model.scalers["burst"]
            x = (burst[test] - mean) / scale
            for label in model.burst_labels:
                members = model.members[label] + model.context[label]
                mats = {b: model.matrix(b, texts_te, emb_te) for b in model.text_blocks}
                mats["burst"] = x
                scores[f"{label}+burst"][test] = np.mean(
                    [m.decision(mats[m.block]) / m.scale for m in members], axis=0)
        if log:
            log(f"held out {incident} ({k}/{len(incidents)})")
    out = {}
    for key, s in scores.items():
        y = data.labels[key.split("+")[0]]
        out[key] = summarise({inc: _fold_rows(y[data.groups == inc], s[data.groups == inc])
                              for inc in incidents})
    return out


@dataclass
class OfftopicOptions:
    """Everything ``asaas train offtopic`` can be told."""

    source: str
    name: str = "offtopic"
    labels: dict[str, str] = field(default_factory=dict)  # name -> column
    features: list[str] = field(default_factory=lambda: ["tfidf"])
    burst_labels: list[str] = field(default_factory=lambda: list(DEFAULT_BURST_LABELS))
    text_column: str = "review"
    group_column: str = "project"
    background: str | None = None  # file of ordinary reviews for the burst block
    background_rows: int = 5000
    threads: int | None = None
    evaluate: bool = True
    description: str | None = None


def read_background(path: str, rows: int, seed: int = 0) -> list[str]:
    """Ordinary reviews (a table file with a text column, e.g. the woctezuma Steam file's
    English reviews) for the burst block: a fixed sample of ``rows``, each at least 20
    characters."""
    import pandas as pd

    from asaas.errors import SourceError

    file = Path(path).expanduser()
    if not file.is_file():
        raise SourceError(f"--background {file} does not exist; pass a Parquet/CSV file of "
                          "ordinary reviews (e.g. ../shared/data/steam/woctezuma_steam_reviews_"
                          "80games_2010-2018.parquet)")
    try:
        if file.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(file).names
            wanted = [c for c in ("review", "text", "content", "language") if c in names]
            df = pd.read_parquet(file, columns=wanted)
        else:
            df = pd.read_csv(file, dtype=str)
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read --background {file} ({type(exc).__name__})") from None
    column = next((c for c in ("review", "text", "content") if c in df.columns), None)
    if column is None:
        raise SourceError(f"--background {file} has no review, text or content column")
    if "language" in df.columns:
        df = df[df["language"].isin(["english", "en"])]
    texts = df[column].dropna().astype(str)
    texts = texts[texts.str.len() >= 20]
    if texts.empty:
        raise SourceError(f"--background {file} has no review of 20 characters or more")
    return texts.sample(min(rows, len(texts)), random_state=seed).tolist()


def _recipe_key(opts: OfftopicOptions, data: Annotations, identities: dict[str, Any]) -> str:
    blob = json.dumps({"labels": opts.labels, "features": opts.features,
                       "burst_labels": opts.burst_labels, "data": data.fingerprint,
                       "background": opts.background and Path(opts.background).name,
                       "background_rows": opts.background_rows, "embedders": identities},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def train_offtopic(store: Store, home: Path, opts: OfftopicOptions, *,
                   embedders: dict[str, tuple[EmbedFn, dict[str, Any]]],
                   log: Callable[[str], None] | None = None) -> TrainReport:
    """Evaluate (unless ``opts.evaluate`` is off), fit on every incident and register a version
    of ``opts.name`` whose metrics hold the evaluation. ``embedders``: for each embedding block
    among the features, (texts -> vectors, the embedder's identity)."""
    from asaas.offtopic.data import load_annotations

    registry.check_name(opts.name)
    missing = [b for b in opts.features if b in EMBEDDING_BLOCKS and b not in embedders]
    if missing:
        raise ConfigError(f"no embedder for the {missing[0]} block")
    unknown = [b for b in opts.burst_labels if b not in opts.labels]
    if "burst" in opts.features and unknown:
        raise ConfigError(f"--burst-labels: {unknown[0]} is not among --labels "
                          f"({', '.join(opts.labels)})")
    t0 = time.perf_counter()
    data = load_annotations(opts.source, opts.labels, text_column=opts.text_column,
                            group_column=opts.group_column)
    background: list[str] = []
    if "burst" in opts.features and opts.burst_labels:
        if not opts.background:
            raise ConfigError("the burst block needs ordinary reviews to compare each incident "
                              "with: add --background FILE (e.g. ../shared/data/steam/woctezuma_"
                              "steam_reviews_80games_2010-2018.parquet)")
        background = read_background(opts.background, opts.background_rows)
    emb: dict[str, np.ndarray] = {}
    t_embed = time.perf_counter()
    for block in opts.features:
        if block in EMBEDDING_BLOCKS:
            if log:
                log(f"embedding {len(data.texts):,} reviews with {block}")
            emb[block] = np.asarray(embedders[block][0](data.texts), dtype=np.float64)
    embed_seconds = time.perf_counter() - t_embed
    burst_labels = [b for b in opts.burst_labels if "burst" in opts.features]
    burst = None
    if burst_labels:
        if log:
            log("burst features of every incident")
        burst = burst_features(data.texts, data.groups, background)
    evaluation: dict[str, Any] = {}
    if opts.evaluate:
        evaluation = leave_one_incident_out(data, opts.features, emb, burst, burst_labels,
                                            log=log)
    identities = {b: embedders[b][1] for b in emb}
    model = fit_model(data.texts, data.groups, data.labels, opts.features, emb, burst=burst,
                      burst_labels=burst_labels, embedders=identities, background=background)
    seconds = time.perf_counter() - t0
    params = {"labels": model.labels, "columns": opts.labels, "features": opts.features,
              "burst_labels": model.burst_labels, "source": data.source,
              "text_column": opts.text_column, "group_column": opts.group_column,
              "incidents": data.incidents, "embedders": identities,
              "background_rows": len(background),
              "recipe_key": _recipe_key(opts, data, identities)}
    metrics = {"train_rows": len(data.texts), "train_seconds": round(seconds, 1),
               "embed_seconds": round(embed_seconds, 1), "dropped_empty": data.dropped_empty,
               "evaluation": "leave one incident out" if evaluation else None,
               "labels": evaluation}
    with staged_artifact(home, opts.name) as (tmp, commit):
        model.save(tmp)
        final = commit()
        mv = registry.register(store, opts.name, kind=KIND, artifact_uri=str(final),
                               params=params, train_dataset=None,
                               train_fingerprint=data.fingerprint, metrics=metrics,
                               description=opts.description or "off-topic classifier: "
                               + ", ".join(model.labels))
    return TrainReport(mv, evaluation, seconds, embed_seconds, len(data.texts),
                       data.dropped_empty)


def load_model(mv: ModelVersion) -> OfftopicModel:
    """A registered version's model, its files checked against their recorded checksums."""
    from asaas.models.registry import verify_artifact

    verify_artifact(mv)
    return OfftopicModel.load(mv.artifact_uri)


# -- tables of the evaluation ---------------------------------------------------------------------


def _ci(value: Any, low: Any, high: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} ({low:.2f}-{high:.2f})"


def summary_table(evaluation: dict[str, Any]) -> Any:
    """One row per label: mean and worst leave-one-incident-out AUC, mean balanced accuracy,
    and the pooled error rates that correct shares."""
    from asaas.tables import Table

    rows = []
    for key, s in evaluation.items():
        rows.append((key, s["mean_auc"], s["worst_auc"], s["worst_incident"], s["mean_ba"],
                     s["hit_rate"], s["false_alarm_rate"], s["n_positive"], s["n_negative"]))
    return Table(["label", "mean_auc", "worst_auc", "worst_incident", "mean_ba", "hit_rate_s",
                  "false_alarm_rate_f", "n_yes", "n_no"], rows)


def incidents_table(evaluation: dict[str, Any]) -> Any:
    """One row per label and held-out incident: ROC AUC and balanced accuracy with their 95%
    intervals."""
    from asaas.tables import Table

    rows = []
    for key, s in evaluation.items():
        for incident, f in s["incidents"].items():
            rows.append((key, incident, f["n"], f["positives"],
                         _ci(f["auc"], f["auc_low"], f["auc_high"]),
                         _ci(f["ba"], f["ba_low"], f["ba_high"])))
    return Table(["label", "held_out_incident", "reviews", "yes", "roc_auc (95% CI)",
                  "balanced_accuracy (95% CI)"], rows)
