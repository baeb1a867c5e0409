"""One alert explained: the words that set its reviews apart from the baseline before it, and
the reviews that carry them (``asaas alerts show``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from asaas.store import Store
from asaas.tables import Table, query
from asaas.timeline.alerts import find_alert
from asaas.timeline.daily import SeriesSource, resolve_source
from asaas.timeline.rules import Alert, AlertError, AlertRule


@dataclass
class Explanation:
    alert: Alert
    terms: Table  # term, period_reviews, baseline_reviews, z
    reviews: Table  # review_id, reviewed_at, label, prob_positive, snippet
    baseline_reviews: int  # all reviews of the baseline window
    period_reviews: int
    #: The reviews the alert is about: its period's negatives (negative and shift alerts) or
    #: all its reviews (volume): what its off-topic shares are computed over.
    focus_ids: list[int] = field(default_factory=list)


SNIPPET_CHARS = 160
#: A word: two or more letters (digits and underscores end it).
WORD = r"(?u)\b[^\W\d_]{2,}\b"


def _reviews_between(store: Store, alert: Alert, src: SeriesSource, start: date, end: date,
                     dataset: str | None) -> pd.DataFrame:
    """The alert product's reviews on days [start, end], with how the source judged them."""
    params: dict[str, Any] = {"pid": alert.product_id, "lo": pd.Timestamp(start).to_pydatetime(),
                              "hi": (pd.Timestamp(end) + pd.Timedelta(days=1)).to_pydatetime()}
    where = ["r.product_id = :pid", "r.reviewed_at >= :lo", "r.reviewed_at < :hi"]
    if dataset is not None:
        where.append("r.dataset = :dataset")
        params["dataset"] = dataset
    if src.kind == "model":
        sql = ("SELECT r.id, r.reviewed_at, r.label, p.label AS judged, p.prob_positive, r.text "
               "FROM reviews r JOIN predictions p ON p.review_id = r.id "
               f"AND p.model_version_id = :mv WHERE {' AND '.join(where)}")
        params["mv"] = src.model_version_id
    else:
        sql = ("SELECT r.id, r.reviewed_at, r.label, r.label AS judged, "
               "CAST(NULL AS DOUBLE PRECISION) AS prob_positive, r.text FROM reviews r "
               f"WHERE {' AND '.join(where)} AND r.label IS NOT NULL")
    return pd.DataFrame(query(store, sql, params).rows, columns=[
        "review_id", "reviewed_at", "label", "judged", "prob_positive", "text"])


def distinctive_terms(period: Sequence[str], baseline: Sequence[str], top: int = 15,
                      prior: float = 100.0) -> Table:
    """Words that set ``period`` apart from ``baseline``: the log-odds ratio of document
    frequencies with an informative Dirichlet prior (Monroe, Colaresi and Quinn 2008, "Fightin'
    words"), as a z score. Document frequencies, so one review repeating a word counts once."""
    from sklearn.feature_extraction.text import CountVectorizer

    columns = ["term", "period_reviews", "baseline_reviews", "z"]
    if not len(period):
        return Table(columns, [])
    vec = CountVectorizer(binary=True, stop_words="english", min_df=2,
                          token_pattern=WORD)
    try:
        x = vec.fit_transform(list(period) + list(baseline))
    except ValueError:  # no word appears twice
        return Table(columns, [])
    a = np.asarray(x[:len(period)].sum(axis=0)).ravel().astype(float)
    b = np.asarray(x[len(period):].sum(axis=0)).ravel().astype(float)
    total = a + b
    alpha = prior * total / total.sum()
    a0, b0, alpha0 = a.sum(), b.sum(), alpha.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (np.log((a + alpha) / (a0 + alpha0 - a - alpha))
                 - np.log((b + alpha) / (b0 + alpha0 - b - alpha)))
        z = delta / np.sqrt(1 / (a + alpha) + 1 / (b + alpha))
    order = np.argsort(-z)[:top]
    terms = vec.get_feature_names_out()
    return Table(columns, [(str(terms[i]), int(a[i]), int(b[i]), float(z[i]))
                           for i in order if a[i] > 0 and z[i] > 0])


def explain(store: Store, alert: Alert | str, *, source: str | None = None,
            dataset: str | None = None, rule: AlertRule | None = None, n_reviews: int = 10,
            n_terms: int = 15) -> Explanation:
    """The reviews and words behind an alert: its most distinctive words against the baseline
    before it (negative reviews against the baseline's negative reviews, for negative and shift
    alerts), and the reviews that carry them (with a model source: the most confidently
    negative ones first)."""
    if n_reviews < 0 or n_terms < 0:
        raise AlertError("--reviews and --terms must be 0 or more")
    rule = rule or AlertRule()
    if isinstance(alert, str):
        alert = find_alert(store, alert, source=source, dataset=dataset, rule=rule)
    src = resolve_source(store, source)
    period = _reviews_between(store, alert, src, alert.start, alert.end, dataset)
    # A shift is compared with as long a stretch before it (up to half a year), a burst with the
    # rule's baseline.
    span = min(max(alert.days, rule.baseline_days), 182) if alert.kind == "shift" \
        else rule.baseline_days
    base_start = alert.start - timedelta(days=span)
    baseline = _reviews_between(store, alert, src, base_start, alert.start - timedelta(days=1),
                                dataset)
    # A negative or shift alert is about its complaints: what sets them apart from the
    # complaints of the baseline (not from praise). A volume alert is about all its reviews.
    if alert.kind == "volume":
        focus, usual = period, baseline
    else:
        focus, usual = period[period["judged"] == 0], baseline[baseline["judged"] == 0]
    terms = distinctive_terms(focus["text"].tolist(), usual["text"].tolist(), top=n_terms)
    shown = _driving_reviews(focus, terms, alert.kind,
                             by_confidence=src.kind == "model").head(n_reviews)
    reviews = Table(["review_id", "reviewed_at", "label", "prob_positive", "snippet"], [
        (int(r.review_id), r.reviewed_at, None if pd.isna(r.label) else int(r.label),
         None if pd.isna(r.prob_positive) else float(r.prob_positive),
         _snippet(r.text)) for r in shown.itertuples()])
    return Explanation(alert, terms, reviews, len(baseline), len(period),
                       [int(i) for i in focus["review_id"]])


def _driving_reviews(focus: pd.DataFrame, terms: Table, kind: str, *, by_confidence: bool
                     ) -> pd.DataFrame:
    """``focus`` ordered by the distinctive words each review carries (with a model source:
    first by how confident the model is, negative for negative and shift alerts)."""
    if not len(focus):
        return focus
    weights = {row[0]: row[3] for row in terms.rows}
    words = focus["text"].str.lower().str.findall(WORD)
    focus = focus.assign(term_score=[sum(weights.get(w, 0.0) for w in set(ws)) for ws in words])
    keys = ["term_score"]
    if by_confidence:
        focus = focus.assign(confidence=(1 - focus["prob_positive"]) if kind != "volume"
                             else (focus["prob_positive"] - 0.5).abs())
        keys = ["confidence", "term_score"]
    return focus.sort_values(keys + ["review_id"], ascending=[False] * len(keys) + [True])


def _snippet(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS - 1] + "…"
