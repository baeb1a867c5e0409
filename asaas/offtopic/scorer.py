"""An off-topic version as the scoring engine sees it: texts in, a score per label out.

The engine hands it chunks of reviews like any scorer; it returns, per label, the fused score of
the text blocks mapped to (0, 1) by the logistic function (0.5 is the class-balanced threshold:
a ranking score, not a calibrated probability), which the writer stores in
``label_predictions``. The burst block needs a whole burst and is applied by alerts, not here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from asaas.models.registry import ModelVersion
from asaas.offtopic.model import OfftopicModel
from asaas.scoring.options import ScoreOptions, Scored
from asaas.scoring.scorers import register_scorer


#: Scores beyond this are clipped before the logistic function, so ``to_score`` inverts it.
CLIP = 30.0


def to_prob(score: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(score, -CLIP, CLIP)))


def to_score(prob: np.ndarray) -> np.ndarray:
    """The fused score back from a stored value of ``to_prob``."""
    p = np.clip(np.asarray(prob, dtype=np.float64), 1e-15, 1 - 1e-15)
    return np.log(p / (1 - p))


class OfftopicScorer:
    """Every label of one off-topic version (see the module docstring)."""

    device = "cpu"

    def __init__(self, mv: ModelVersion, options: ScoreOptions) -> None:
        from asaas.offtopic.embedding import embedder
        from asaas.offtopic.train import load_model

        self.mv = mv
        home = options.home  # the engines fill in the database's ASAAS_HOME
        self.model: OfftopicModel = load_model(mv)
        self.embed = {block: embedder(block, home=home, threads=options.threads,
                                      identity=self.model.embedders.get(block))[0]
                      for block in self.model.embedding_blocks}

    def prepare(self, texts: Sequence[str],
                languages: Sequence[str | None] | None = None) -> list[str]:
        return list(texts)

    def run(self, texts: list[str]) -> Scored:
        n = len(texts)
        try:
            emb = {block: fn(texts) for block, fn in self.embed.items()}
            scores = self.model.text_scores(texts, emb)
        except Exception as exc:  # noqa: BLE001 - a chunk that fails is retried per review
            if n == 1:
                return Scored(np.zeros(1), [None], [None], {0: f"{type(exc).__name__}: "
                                                                f"{exc}"[:500]})
            parts = [self.run([t]) for t in texts]
            labels = {label: np.array([p.label_scores[label][0] if p.label_scores else np.nan
                                       for p in parts]) for label in self.model.labels}
            errors = {i: p.errors[0] for i, p in enumerate(parts) if p.errors}
            return Scored(np.zeros(n), [None] * n, [None] * n, errors, label_scores=labels)
        labels = {label: to_prob(s) for label, s in scores.items()}
        first = labels[self.model.labels[0]]
        return Scored(first, [None] * n, [None] * n, {}, label_scores=labels)


register_scorer("offtopic", lambda mv, options, recipe: OfftopicScorer(mv, options))
