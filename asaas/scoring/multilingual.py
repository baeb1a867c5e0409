"""Scorers of the multilingual kinds (asaas.models.multilingual): ``tfidf-multi`` and
``e5-stack``, registered with the scorer registry when this module is imported.

Both label a review positive when its probability reaches its language's threshold (the
version's ``thresholds.json``; the pooled one for a language it has none for, or none
recorded). A review with no character n-gram the TF-IDF model knows (an emoji or a script it
never saw, nothing else) is not scored: it is recorded in ``prediction_failures`` with that
reason, since the model's answer would be its prior, not a reading of the review.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from asaas.errors import AsaasError
from asaas.models.multilingual import (EMBEDDER_FILE, STACK_FILE, load_arrays, load_thresholds,
                                       read_checked)
from asaas.models.registry import ModelVersion, Recipe
from asaas.scoring.options import ScoreOptions, Scored
from asaas.scoring.scorers import register_scorer

#: Why a review with no known n-gram gets no prediction (prediction_failures.error).
NOTHING_KNOWN = ("no character n-gram of this review is in the model's vocabulary (empty after "
                 "cleaning, or only symbols or a script it never saw): not scored")


class TfidfMultiScorer:
    """A TF-IDF + logistic regression pipeline over every language, labelled per language."""

    device = "cpu"

    def __init__(self, mv: ModelVersion, options: ScoreOptions) -> None:
        from asaas.models.sklearn_models import PIPELINE_FILE, load_pipeline

        self.label = mv.label
        pipeline = load_pipeline(mv.artifact_uri,
                                 expected_sha256=mv.artifact_sha256.get(PIPELINE_FILE))
        try:
            self.vectorizer, self.lr = pipeline.named_steps["tfidf"], pipeline.named_steps["lr"]
        except (AttributeError, KeyError):
            raise AsaasError(f"{mv.label}: pipeline.joblib is not a TF-IDF + logistic "
                             "regression pipeline; retrain it") from None
        classes = list(self.lr.classes_)
        if 1 not in classes:
            raise AsaasError(f"{mv.label} has classes {classes}, none of them 1 (positive)")
        self.positive = classes.index(1)
        self.thresholds = load_thresholds(mv.label, mv.artifact_uri, mv.artifact_sha256)

    def prepare(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
                ) -> tuple[list[str], list[str | None], Any]:
        texts = list(texts)
        langs = list(languages) if languages is not None else [None] * len(texts)
        # Vectorising is the slow half: it runs on the engine's helper thread.
        return texts, langs, self.vectorizer.transform(texts)

    def logits(self, X: Any) -> np.ndarray:
        """The logistic regression's decision value for the positive class."""
        d = np.asarray(self.lr.decision_function(X), dtype=np.float64)
        return d if self.positive == 1 else -d

    def run(self, prepared: tuple[list[str], list[str | None], Any]) -> Scored:
        texts, langs, X = prepared
        return self._scored(X, langs, self.logits(X))

    def _scored(self, X: Any, langs: list[str | None], logit: np.ndarray) -> Scored:
        n = X.shape[0]
        prob = 1.0 / (1.0 + np.exp(-logit))
        labels = self.thresholds.labels(prob, langs)
        empty = np.flatnonzero(X.getnnz(axis=1) == 0)
        errors = {int(i): NOTHING_KNOWN for i in empty}
        return Scored(prob, [None] * n, [None] * n, errors, labels=labels)


class E5StackScorer(TfidfMultiScorer):
    """Logistic regression on [e5 embedding, the TF-IDF model's standardised logit]."""

    def __init__(self, mv: ModelVersion, options: ScoreOptions) -> None:
        import json

        from asaas.models import embeddings

        super().__init__(mv, options)
        weights = load_arrays(mv.label, mv.artifact_uri, STACK_FILE, mv.artifact_sha256)
        self.coef = weights["coef"].astype(np.float64).ravel()
        self.intercept = float(weights["intercept"].ravel()[0])
        self.tfidf_mean = float(weights["tfidf_mean"].ravel()[0])
        self.tfidf_scale = float(weights["tfidf_scale"].ravel()[0])
        recorded = json.loads(read_checked(mv.label, mv.artifact_uri, EMBEDDER_FILE,
                                           mv.artifact_sha256))
        embedder = embeddings.get_embedder(recorded["embedder"],
                                           max_tokens=recorded.get("max_tokens"),
                                           threads=options.threads)
        embeddings.check_identity(mv.label, recorded, embedder)
        if self.coef.shape != (embedder.dim + 1,):
            raise AsaasError(f"{mv.label}: stack.npz has {self.coef.shape[0]} weights for "
                             f"{embedder.dim + 1} features; retrain it")
        self.embedder = embeddings.cached(embedder, options.home)

    def run(self, prepared: tuple[list[str], list[str | None], Any]) -> Scored:
        texts, langs, X = prepared
        tfidf = (self.logits(X) - self.tfidf_mean) / self.tfidf_scale
        vectors = self.embedder.embed(texts).astype(np.float64)
        logit = vectors @ self.coef[:-1] + tfidf * self.coef[-1] + self.intercept
        return self._scored(X, langs, logit)


def _tfidf_multi(mv: ModelVersion, options: ScoreOptions, recipe: Recipe) -> TfidfMultiScorer:
    return TfidfMultiScorer(mv, options)


def _e5_stack(mv: ModelVersion, options: ScoreOptions, recipe: Recipe) -> E5StackScorer:
    return E5StackScorer(mv, options)


register_scorer("tfidf-multi", _tfidf_multi)
register_scorer("e5-stack", _e5_stack)
