"""Off-topic shares of a set of stored reviews (an alert's, a period's), from an off-topic
version's stored predictions (``label_predictions``), corrected for its error rates
(``asaas.offtopic.shares``).

Labels trained with the burst block (review bomb, by default) are scored again with it here:
the set is the burst, as an incident was in training; their stored text-block scores are
combined with the burst block's, so nothing is embedded again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asaas.errors import AsaasError
from asaas.models.registry import ModelVersion
from asaas.offtopic import KIND
from asaas.offtopic.shares import MIN_REVIEWS, Share, shares_from_counts
from asaas.store import Store
from asaas.tables import query

AUTO, NONE = "auto", "none"


@dataclass
class ReviewShares:
    version: str
    n_reviews: int  # reviews asked about
    n_scored: int  # of which the version has scored
    shares: list[Share] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def offtopic_versions(store: Store) -> list[ModelVersion]:
    from asaas.models.registry import list_versions

    return [v for v in list_versions(store) if v.kind == KIND]


def pick_version(store: Store, ref: str | None) -> ModelVersion | None:
    """``auto`` (or None): the newest off-topic version, if any; ``none``: no version;
    ``MODEL[:VERSION]``: that version, which must be an off-topic one."""
    from asaas.models.registry import resolve_ref

    if ref is None or ref == AUTO:
        versions = offtopic_versions(store)
        return max(versions, key=lambda v: (v.created_at, v.id)) if versions else None
    if ref == NONE:
        return None
    mv = resolve_ref(store, ref)
    if mv.kind != KIND:
        raise AsaasError(f"{mv.label} is a {mv.kind} model, not an off-topic classifier; "
                         "train one with `asaas train offtopic --source FILE`")
    return mv


def _stored(store: Store, mv: ModelVersion, review_ids: Sequence[int]
            ) -> dict[str, dict[int, int]]:
    """label -> {review id: predicted} of the reviews the version scored."""
    out: dict[str, dict[int, int]] = {}
    ids = [int(i) for i in review_ids]
    for start in range(0, len(ids), 10_000):
        rows = query(store, "SELECT review_id, label_name, predicted FROM label_predictions "
                            "WHERE model_version_id = :mv AND review_id IN :ids",
                     {"mv": mv.id, "ids": ids[start:start + 10_000]}).rows
        for review_id, label, predicted in rows:
            out.setdefault(label, {})[int(review_id)] = int(predicted)
    return out


def _burst_counts(store: Store, mv: ModelVersion, review_ids: list[int]) -> dict[str, int]:
    """Labels with the burst block: how many of the reviews it says yes to, the reviews taken
    as one burst (their stored text-block scores plus the burst block; no embedding needed)."""
    from asaas.offtopic.scorer import to_score
    from asaas.offtopic.train import load_model

    model = load_model(mv)
    rows = query(store, "SELECT r.id, r.text, lp.label_name, lp.prob FROM reviews r JOIN "
                        "label_predictions lp ON lp.review_id = r.id AND lp.model_version_id "
                        "= :mv WHERE r.id IN :ids AND lp.label_name IN :labels",
                 {"mv": mv.id, "ids": review_ids, "labels": model.burst_labels}).rows
    texts = {int(r[0]): r[1] for r in rows}
    probs: dict[str, dict[int, float]] = {}
    for review_id, _, label, prob in rows:
        probs.setdefault(label, {})[int(review_id)] = float(prob)
    ids = sorted(texts)
    text_scores = {label: to_score(np.array([probs[label][i] for i in ids]))
                   for label in model.burst_labels}
    scores = model.add_burst(text_scores, [texts[i] for i in ids],
                             np.zeros(len(ids), dtype=int))
    return {label: int((s >= 0).sum()) for label, s in scores.items()}


def review_shares(store: Store, mv: ModelVersion, review_ids: Sequence[int], *,
                  burst: bool = True) -> ReviewShares:
    """The corrected share of each of ``mv``'s labels among ``review_ids`` (see the module
    docstring). Reviews the version has not scored are left out and counted in a note; fewer
    than MIN_REVIEWS scored reviews give a reason instead of a share."""
    ids = list(dict.fromkeys(int(i) for i in review_ids))
    stored = _stored(store, mv, ids)
    labels: list[str] = list(mv.params.get("labels") or [])
    scored = [i for i in ids if all(i in stored.get(label, {}) for label in labels)]
    out = ReviewShares(mv.label, len(ids), len(scored))
    if len(scored) < len(ids):
        dataset = _dataset_hint(store, ids)
        out.notes.append(f"{len(ids) - len(scored)} of {len(ids)} reviews are not scored by "
                         f"{mv.label}: `asaas score --model {mv.name} --version {mv.version} "
                         f"--dataset {dataset} --split all --language all`")
    summaries = (mv.metrics or {}).get("labels") or {}
    if not summaries:
        out.notes.append(f"{mv.label} was trained without its evaluation (--no-evaluation): "
                         "no error rates to correct with")
    counts = {label: sum(stored[label][i] for i in scored) for label in labels
              if label in stored or not scored}
    counts = {label: counts.get(label, 0) for label in labels}
    burst_counts = None
    context = [label for label in (mv.params.get("burst_labels") or [])
               if f"{label}+burst" in summaries]
    if burst and context and len(scored) >= MIN_REVIEWS:
        try:
            burst_counts = _burst_counts(store, mv, scored)
        except AsaasError as exc:
            out.notes.append(f"no burst features ({exc}); {', '.join(context)} from the "
                             "reviews' own words only")
    out.shares = shares_from_counts(counts, len(scored), summaries, burst_counts)
    return out


def _dataset_hint(store: Store, ids: list[int]) -> str:
    rows = query(store, "SELECT DISTINCT dataset FROM reviews WHERE id IN :ids",
                 {"ids": ids[:1000]}).rows
    return rows[0][0] if len(rows) == 1 else "DATASET"


def as_json(found: ReviewShares) -> dict[str, Any]:
    return {"model": found.version, "reviews": found.n_reviews, "scored": found.n_scored,
            "notes": found.notes,
            "shares": [{"label": s.label, "question": s.description, "reviews": s.n,
                        "said_yes": s.k, "raw_share": s.raw, "raw_ci": [s.raw_low, s.raw_high],
                        "corrected_share": s.corrected, "ci": [s.low, s.high],
                        "with_burst": s.with_burst, "reason": s.reason}
                       for s in found.shares]}
