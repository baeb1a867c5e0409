"""Cheap scikit-learn baselines, and ``train_baseline``: fit one on ingested reviews and register
it as a new model version.

``bow-rf`` reproduces the reference notebook faithfully: strip HTML, keep letters, lowercase,
drop English stop words, count the 5,000 most frequent words (counts, not TF-IDF) and fit a
default ``RandomForestClassifier`` (100 trees) with a fixed seed on all cores.

``tfidf-lr`` is our stronger cheap baseline, NBSVM-style (Wang & Manning 2012): word unigram and
bigram TF-IDF features, each scaled by its naive-Bayes log-count ratio, then logistic regression.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from asaas.errors import ConfigError
from asaas.models import registry
from asaas.models.registry import ModelVersion
from asaas.models.sklearn_models import save_pipeline
from asaas.settings import DEFAULT_DATASET
from asaas.store import Store
from asaas.training.artifacts import staged_artifact
from asaas.training.data import load_training_data
from asaas.training.options import DEFAULT_SEED, check_seed

_TAG = re.compile(r"<[^>]+>")
_NON_LETTER = re.compile(r"[^a-z]+")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def clean_text(text: str) -> str:
    """The notebook's cleaning: HTML tags out, letters only, lowercase, stop words out."""
    text = _NON_LETTER.sub(" ", _TAG.sub(" ", text).lower())
    return " ".join(w for w in text.split() if w not in ENGLISH_STOP_WORDS)


def strip_html(text: str) -> str:
    """Light cleaning for TF-IDF: drop tags (IMDB is full of <br />), keep punctuation."""
    return _TAG.sub(" ", _HTML_BREAK.sub(" ", text)).lower()


class NBScaler(TransformerMixin, BaseEstimator):
    """Scale each feature by its naive-Bayes log-count ratio r = log((p/|p|) / (q/|q|))."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> NBScaler:
        y = np.asarray(y)
        p = self.alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
        self.r_ = np.log((p / p.sum()) / (q / q.sum()))
        return self

    def transform(self, X: Any) -> Any:
        return X.multiply(self.r_).tocsr()


def bow_rf_pipeline(seed: int = 42, n_jobs: int = -1, class_weight: str | None = None
                    ) -> Pipeline:
    return Pipeline([
        ("bow", CountVectorizer(preprocessor=clean_text, max_features=5000)),
        ("rf", RandomForestClassifier(random_state=seed, n_jobs=n_jobs,
                                      class_weight=class_weight)),
    ])


def tfidf_lr_pipeline(seed: int = 42, C: float = 4.0, class_weight: str | None = None
                      ) -> Pipeline:
    return Pipeline([
        ("tfidf", TfidfVectorizer(preprocessor=strip_html, ngram_range=(1, 2), min_df=2,
                                  max_df=0.95, sublinear_tf=True,
                                  token_pattern=r"(?u)\b\w+\b|[!?]")),
        ("nb", NBScaler()),
        ("lr", LogisticRegression(C=C, max_iter=2000, solver="liblinear", random_state=seed,
                                  class_weight=class_weight)),
    ])


BASELINES = {
    "bow-rf": bow_rf_pipeline,
    "tfidf-lr": tfidf_lr_pipeline,
}


CLASS_WEIGHTS = (None, "balanced")


def fit_baseline(kind: str, texts: list[str], labels: list[int], seed: int = 42,
                 class_weight: str | None = None) -> tuple[Pipeline, dict[str, Any]]:
    """Fit one of BASELINES; returns the pipeline and its parameters and timing."""
    from asaas.training.data import TrainingDataError

    pipeline = BASELINES[kind](seed=seed, class_weight=class_weight)
    t0 = time.perf_counter()
    try:
        pipeline.fit(texts, labels)
    except ValueError as exc:
        if "no terms remain" not in str(exc) and "empty vocabulary" not in str(exc):
            raise
        # tfidf-lr keeps words found in at least 2 reviews and in at most 95% of them: a few
        # short or repetitive reviews can leave none.
        raise TrainingDataError(
            f"{kind}: no word of the {len(texts):,} training reviews is usable (tfidf-lr keeps "
            "words found in at least 2 reviews and in at most 95% of them); train on more, or "
            "more varied, reviews (--limit, or ingest more)") from None
    seconds = time.perf_counter() - t0
    params = {"recipe": kind, "seed": seed, "class_weight": class_weight,
              "steps": {name: type(step).__name__ for name, step in pipeline.steps},
              "step_params": {name: {k: v for k, v in step.get_params().items()
                                     if isinstance(v, (int, float, str, bool, type(None), tuple))}
                              for name, step in pipeline.steps}}
    metrics = {"train_seconds": round(seconds, 2), "train_rows": len(texts),
               "vocabulary": len(pipeline.steps[0][1].vocabulary_)}
    return pipeline, {"params": params, "metrics": metrics}


def train_baseline(store: Store, kind: str, home: Path, *, name: str | None = None,
                   dataset: str = DEFAULT_DATASET, limit: int | None = None,
                   seed: int = DEFAULT_SEED, skip_existing: bool = False,
                   languages: list[str] | None = None,
                   class_weight: str | None = None) -> ModelVersion:
    """Fit a BASELINES recipe on the train split and register it as a new version.

    With ``skip_existing``, a version of ``name`` already trained with the same recipe on the
    same rows is returned instead of training again. ``class_weight="balanced"`` weighs the
    rarer class up (Steam reviews are 94% positive).
    """
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1 (got {limit})")
    check_seed(seed)
    data = load_training_data(store, dataset, "train", limit, languages)
    key_parts: list = [kind, seed, limit, data.fingerprint]
    if class_weight:  # absent from keys of runs made before the option existed
        key_parts.append(class_weight)
    recipe_key = hashlib.sha256(json.dumps(key_parts).encode()).hexdigest()[:12]
    if skip_existing:
        existing = registry.find_by_recipe(store, name or kind, recipe_key)
        if existing is not None:
            return existing
    pipeline, info = fit_baseline(kind, data.texts, data.labels, seed, class_weight)
    params = {**info["params"], "limit": limit, "recipe_key": recipe_key,
              "languages": data.languages}
    with staged_artifact(home, name or kind) as (tmp, commit):
        save_pipeline(pipeline, tmp)
        (tmp / "asaas.json").write_text(json.dumps({"params": params, **info}, indent=2,
                                                   default=str))
        final = commit()
        return registry.register(
            store, name or kind, kind="sklearn", artifact_uri=str(final), params=params,
            train_dataset=dataset, train_split=data.split, train_fingerprint=data.fingerprint,
            metrics=info["metrics"],
        )
