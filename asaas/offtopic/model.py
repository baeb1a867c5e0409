"""The off-topic classifier: per label, one logistic regression per feature block, fused late.

Each block's regression (class-balanced, so 0 is the threshold that treats both answers alike)
gives a decision score; the label's score is the mean of those scores, each divided by its
spread on the training reviews (late fusion: the issue-20 research found it beat one regression
on all features side by side, 0.830 against 0.803 mean AUC for "about the game"). The regression
strength C of a dense block is chosen by an inner leave-one-incident-out over the training
incidents; TF-IDF keeps scikit-learn's C = 1.

Saved as plain data, never a pickle: ``model.json`` (labels, blocks, intercepts, scales, the
TF-IDF vocabulary, the embedders' identities) and ``arrays.npz`` (coefficients, idf weights,
scalers; read with ``allow_pickle=False``), plus ``background.json`` (ordinary reviews for the
burst block) when used. The registry records their checksums, checked before every load.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asaas.errors import AsaasError
from asaas.offtopic.features import CONTEXT_BLOCKS, EMBEDDING_BLOCKS, Tfidf, burst_features

FORMAT = 1
MODEL_FILE, ARRAYS_FILE, BACKGROUND_FILE = "model.json", "arrays.npz", "background.json"
#: C grid of the dense blocks (embeddings, burst), chosen by inner leave-one-incident-out.
DENSE_C = (0.01, 0.1, 1.0)
TFIDF_C = 1.0


@dataclass
class Member:
    """One block's regression within one label."""

    block: str
    coef: np.ndarray
    intercept: float
    scale: float  # standard deviation of its decision scores on the training reviews
    c: float

    def decision(self, x: Any) -> np.ndarray:
        return np.asarray(x @ self.coef).ravel() + self.intercept


@dataclass
class OfftopicModel:
    labels: list[str]
    features: list[str]
    tfidf: Tfidf | None = None
    #: block -> (mean, scale) of its standardisation (embedding blocks and burst)
    scalers: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    members: dict[str, list[Member]] = field(default_factory=dict)  # text blocks, per label
    context: dict[str, list[Member]] = field(default_factory=dict)  # burst, per label
    embedders: dict[str, dict[str, Any]] = field(default_factory=dict)  # block -> identity
    background: list[str] = field(default_factory=list)

    @property
    def text_blocks(self) -> list[str]:
        return [b for b in self.features if b not in CONTEXT_BLOCKS]

    @property
    def embedding_blocks(self) -> list[str]:
        return [b for b in self.features if b in EMBEDDING_BLOCKS]

    @property
    def burst_labels(self) -> list[str]:
        return [label for label in self.labels if self.context.get(label)]

    # -- features -----------------------------------------------------------------------------

    def matrix(self, block: str, texts: Sequence[str], emb: dict[str, np.ndarray]) -> Any:
        if block == "tfidf":
            assert self.tfidf is not None
            return self.tfidf.transform(texts)
        mean, scale = self.scalers[block]
        return (np.asarray(emb[block], dtype=np.float64) - mean) / scale

    def burst_matrix(self, texts: Sequence[str], bursts: np.ndarray) -> np.ndarray:
        raw = burst_features(texts, bursts, self.background)
        mean, scale = self.scalers["burst"]
        return (raw - mean) / scale

    def add_burst(self, text_scores: dict[str, np.ndarray], texts: Sequence[str],
                  bursts: np.ndarray) -> dict[str, np.ndarray]:
        """The fused scores of the labels trained with the burst block, from their text-block
        scores (``text_scores``, as ``text_scores`` returns or the engine stored) and the burst
        block: the mean over k text members and the burst member is (k x text + burst) / (k+1),
        so no embedding is needed again."""
        if not self.burst_labels:
            return {}
        burst = self.burst_matrix(texts, bursts)
        out = {}
        for label in self.burst_labels:
            k = len(self.members[label])
            extra = sum(m.decision(burst) / m.scale for m in self.context[label])
            out[label] = (k * np.asarray(text_scores[label]) + extra) / (
                k + len(self.context[label]))
        return out

    # -- scores -------------------------------------------------------------------------------

    def text_scores(self, texts: Sequence[str], emb: dict[str, np.ndarray]
                    ) -> dict[str, np.ndarray]:
        """label -> fused score of each text (0: the class-balanced threshold), from the text
        blocks only: what the scoring engine stores."""
        mats = {b: self.matrix(b, texts, emb) for b in self.text_blocks}
        return {label: np.mean([m.decision(mats[m.block]) / m.scale
                                for m in self.members[label]], axis=0)
                for label in self.labels}

    # -- saving and loading (no pickle) -------------------------------------------------------

    def save(self, folder: Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        if self.tfidf is not None:
            arrays["tfidf_idf"] = self.tfidf.idf
        for block, (mean, scale) in self.scalers.items():
            arrays[f"scaler_{block}_mean"], arrays[f"scaler_{block}_scale"] = mean, scale

        def members(table: dict[str, list[Member]]) -> dict[str, list[dict[str, Any]]]:
            out = {}
            for label, ms in table.items():
                out[label] = []
                for m in ms:
                    key = f"coef_{len(arrays)}"
                    arrays[key] = np.asarray(m.coef, dtype=np.float64)
                    out[label].append({"block": m.block, "coef": key, "intercept": m.intercept,
                                       "scale": m.scale, "C": m.c})
            return out

        doc = {"format": FORMAT, "labels": self.labels, "features": self.features,
               "members": members(self.members), "context": members(self.context),
               "embedders": self.embedders,
               "tfidf_vocabulary": self.tfidf.vocabulary if self.tfidf is not None else None,
               "background": BACKGROUND_FILE if self.background else None}
        np.savez(folder / ARRAYS_FILE, **arrays)
        (folder / MODEL_FILE).write_text(json.dumps(doc), encoding="utf-8")
        if self.background:
            (folder / BACKGROUND_FILE).write_text(json.dumps(self.background), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> OfftopicModel:
        """Read a saved model: JSON and numpy arrays only (``allow_pickle=False``). The caller
        has checked the files against the version's checksums."""
        root = Path(folder).expanduser()
        try:
            doc = json.loads((root / MODEL_FILE).read_text(encoding="utf-8"))
            with np.load(root / ARRAYS_FILE, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            background = (json.loads((root / BACKGROUND_FILE).read_text(encoding="utf-8"))
                          if doc.get("background") else [])
        except (OSError, ValueError, KeyError) as exc:
            raise AsaasError(f"cannot read the off-topic model in {root} ({type(exc).__name__}: "
                             f"{exc}); train it again with `asaas train offtopic`"
                             .splitlines()[0]) from None
        if doc.get("format") != FORMAT:
            raise AsaasError(f"{root} holds an off-topic model of format {doc.get('format')}; "
                             f"this asaas reads format {FORMAT}: train it again")

        def members(table: dict[str, list[dict[str, Any]]]) -> dict[str, list[Member]]:
            return {label: [Member(m["block"], arrays[m["coef"]], float(m["intercept"]),
                                   float(m["scale"]), float(m["C"])) for m in ms]
                    for label, ms in table.items()}

        vocab = doc.get("tfidf_vocabulary")
        scalers = {}
        for key in arrays:
            if key.startswith("scaler_") and key.endswith("_mean"):
                block = key[len("scaler_"):-len("_mean")]
                scalers[block] = (arrays[key], arrays[f"scaler_{block}_scale"])
        return cls(labels=list(doc["labels"]), features=list(doc["features"]),
                   tfidf=Tfidf(vocab, arrays["tfidf_idf"]) if vocab is not None else None,
                   scalers=scalers, members=members(doc["members"]),
                   context=members(doc.get("context") or {}),
                   embedders=doc.get("embedders") or {}, background=background)


# -- fitting -------------------------------------------------------------------------------------


def _lr(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=3000, solver="liblinear")


def _pick_c(x: Any, y: np.ndarray, groups: np.ndarray) -> float:
    """The C of DENSE_C with the best mean AUC over an inner leave-one-incident-out."""
    from sklearn.metrics import roc_auc_score

    best, best_c = -math.inf, DENSE_C[-1]
    for c in DENSE_C:
        aucs = []
        for g in np.unique(groups):
            held = groups == g
            if len(np.unique(y[held])) < 2 or len(np.unique(y[~held])) < 2:
                continue
            model = _lr(c).fit(x[~held], y[~held])
            aucs.append(roc_auc_score(y[held], model.decision_function(x[held])))
        if aucs and float(np.mean(aucs)) > best:
            best, best_c = float(np.mean(aucs)), c
    return best_c


def fit_member(block: str, x: Any, y: np.ndarray, groups: np.ndarray) -> Member:
    c = TFIDF_C if block == "tfidf" else _pick_c(x, y, groups)
    lr = _lr(c).fit(x, y)
    coef = np.asarray(lr.coef_, dtype=np.float64).ravel()
    intercept = float(lr.intercept_[0])
    spread = float(np.std(np.asarray(x @ coef).ravel() + intercept))
    return Member(block, coef, intercept, spread if spread > 0 else 1.0, c)


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    return mean, scale


def fit_model(texts: Sequence[str], groups: np.ndarray, labels: dict[str, np.ndarray],
              features: Sequence[str], emb: dict[str, np.ndarray], *,
              burst: np.ndarray | None = None, burst_labels: Sequence[str] = (),
              embedders: dict[str, dict[str, Any]] | None = None,
              background: Sequence[str] = ()) -> OfftopicModel:
    """Fit every label's members on these rows. ``emb``: the embedding blocks' matrices for
    ``texts``; ``burst``: the burst block's raw features of these rows (computed over whole
    incidents, see features.burst_features) when ``burst`` is among the features."""
    model = OfftopicModel(labels=list(labels), features=list(features),
                          embedders=dict(embedders or {}), background=list(background))
    if "tfidf" in features:
        model.tfidf = Tfidf.fit(texts)
    for block in model.embedding_blocks:
        model.scalers[block] = _standardise(np.asarray(emb[block], dtype=np.float64))
    mats = {b: model.matrix(b, texts, emb) for b in model.text_blocks}
    use_burst = "burst" in features and burst is not None and bool(burst_labels)
    if use_burst:
        model.scalers["burst"] = _standardise(burst)
        mats["burst"] = (burst - model.scalers["burst"][0]) / model.scalers["burst"][1]
    for label, y in labels.items():
        model.members[label] = [fit_member(b, mats[b], y, groups) for b in model.text_blocks]
        if use_burst and label in burst_labels:
            model.context[label] = [fit_member("burst", mats["burst"], y, groups)]
    return model
