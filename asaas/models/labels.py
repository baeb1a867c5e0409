"""From a classifier's own ``id2label`` to the probability that a review is positive.

Never assume what label id 1 means: the reference notebook's first attempt scored ROC AUC 0.478
because it did. The rules, in order:

binary
    Two classes, one named positive (``POSITIVE``, ``pos``, ``positive``...) and the other
    negative: P(positive) is that class's softmax probability. ``LABEL_0``/``LABEL_1`` say nothing
    about meaning, so they need ``--positive-label LABEL_1`` (or ``LABEL_0``).
three-way
    Negative / neutral / positive: P(positive) = P(pos) / (P(pos) + P(neg)), the polar classes
    renormalised, so neutral mass counts for neither side.
stars
    k star classes (``1 star`` .. ``5 stars``): P(positive) = the expected star rating rescaled to
    0..1, i.e. sum_i P(i) * (i - 1) / (k - 1). A 3-star average maps to 0.5.

A mapping that matches none of these, or matches in more than one way, is refused with the
labels listed and the option that resolves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from asaas.errors import AsaasError

POSITIVE_NAMES = {"positive", "pos", "good", "yes", "recommended"}
NEGATIVE_NAMES = {"negative", "neg", "bad", "no", "not recommended"}
NEUTRAL_NAMES = {"neutral", "neu", "mixed"}
_STAR = re.compile(r"^\s*(\d+)\s*stars?\s*$", re.IGNORECASE)


class LabelMappingError(AsaasError):
    """The model's labels cannot be mapped to positive/negative without help."""


@dataclass(frozen=True)
class LabelRule:
    """How to turn a row of class probabilities into P(positive)."""

    kind: str  # binary | three-way | stars
    weights: tuple[float, ...]  # P(positive) = probs @ weights (binary, stars)
    positive_index: int | None = None
    negative_index: int | None = None
    description: str = ""

    def prob_positive(self, probs: np.ndarray) -> np.ndarray:
        if self.kind == "three-way":
            pos = probs[:, self.positive_index]
            neg = probs[:, self.negative_index]
            total = pos + neg
            return np.where(total > 0, pos / np.where(total > 0, total, 1.0), 0.5)
        return probs @ np.asarray(self.weights, dtype=probs.dtype)

    def to_params(self) -> dict:
        return {"label_rule": self.kind, "label_weights": list(self.weights),
                "positive_index": self.positive_index, "negative_index": self.negative_index,
                "label_description": self.description}

    @classmethod
    def from_params(cls, params: dict) -> LabelRule:
        return cls(kind=params["label_rule"], weights=tuple(params["label_weights"]),
                   positive_index=params.get("positive_index"),
                   negative_index=params.get("negative_index"),
                   description=params.get("label_description", ""))


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", " ")


def resolve(id2label: dict[int, str], positive_label: str | None = None) -> LabelRule:
    """Build the rule for a model's ``id2label``; ``positive_label`` picks the positive class."""
    labels = {int(k): str(v) for k, v in id2label.items()}
    ids = sorted(labels)
    if ids != list(range(len(ids))) or len(ids) < 2:
        raise LabelMappingError(f"model labels {labels} are not class ids 0..n-1 with n >= 2")
    shown = ", ".join(f"{i}={labels[i]}" for i in ids)

    if positive_label is not None:
        matches = [i for i in ids if _norm(labels[i]) == _norm(positive_label)]
        if len(matches) != 1:
            raise LabelMappingError(
                f"--positive-label {positive_label!r} is not one of the model's labels ({shown})"
            )
        if len(ids) != 2:
            raise LabelMappingError(
                f"--positive-label works for two-class models; this one has {len(ids)} ({shown})"
            )
        pos = matches[0]
        weights = tuple(1.0 if i == pos else 0.0 for i in ids)
        return LabelRule("binary", weights, pos, 1 - pos,
                         f"positive = {labels[pos]} (given with --positive-label)")

    stars = {i: _STAR.match(labels[i]) for i in ids}
    if len(ids) >= 3 and all(stars.values()):
        values = [int(stars[i].group(1)) for i in ids]  # type: ignore[union-attr]
        lo, hi = min(values), max(values)
        if len(set(values)) == len(values) and hi > lo:
            weights = tuple((v - lo) / (hi - lo) for v in values)
            return LabelRule("stars", weights, None, None,
                             f"expected stars rescaled to 0..1 ({lo}-{hi} stars)")

    pos = [i for i in ids if _norm(labels[i]) in POSITIVE_NAMES]
    neg = [i for i in ids if _norm(labels[i]) in NEGATIVE_NAMES]
    neu = [i for i in ids if _norm(labels[i]) in NEUTRAL_NAMES]
    if len(ids) == 2 and len(pos) == 1 and len(neg) == 1:
        weights = tuple(1.0 if i == pos[0] else 0.0 for i in ids)
        return LabelRule("binary", weights, pos[0], neg[0], f"positive = {labels[pos[0]]}")
    if len(ids) == 3 and len(pos) == 1 and len(neg) == 1 and len(neu) == 1:
        return LabelRule("three-way", (), pos[0], neg[0],
                         f"P({labels[pos[0]]}) / (P({labels[pos[0]]}) + P({labels[neg[0]]}))")
    raise LabelMappingError(
        f"cannot tell which label is positive from the model's labels ({shown}); "
        "pass --positive-label with the positive one"
    )
