"""``asaas report --by language``: each version's balanced accuracy and ROC AUC per language,
with intervals, from the ``metrics_by_language`` view; the decision threshold each language's
labels were made at (a multilingual version's own per language; 0.5 otherwise); and the error
rates the timeline's corrected negative share divides out for that language
(``prevalence_calibration``: s, f on held-out labelled reviews), with a note where they rest on
few negatives.

The numbers are the view's (``SELECT * FROM metrics_by_language`` gives the same); the
threshold comes from the version's checked ``thresholds.json``, since it is part of the model,
not of the predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asaas.errors import AsaasError
from asaas.models.registry import ModelVersion, list_versions
from asaas.settings import DEFAULT_DATASET
from asaas.store import Store
from asaas.tables import Table, query

LANGUAGE_COLUMNS = (
    "model", "version", "dataset", "split", "language", "n", "n_negative", "n_positive",
    "coverage", "balanced_accuracy", "balanced_accuracy_ci_low", "balanced_accuracy_ci_high",
    "roc_auc", "roc_auc_ci_low", "roc_auc_ci_high", "accuracy", "recall", "specificity",
    "threshold", "neg_hit_rate", "neg_false_alarm_rate", "calibration_n_negative",
    "n_labelled", "trained_on_split", "tn", "fp", "fn", "tp", "reason", "model_version_id",
)

#: Held-out negatives under which a language's error rates (s, f: prevalence_calibration) make
#: its corrected negative share rough (issue-20 research: the correction missed by 0.09 for
#: Korean and 0.08 for Turkish, with 149 and 43 negatives and s - f of 0.43 and 0.31).
FEW_CALIBRATION_NEGATIVES = 50

#: What `report --by language` prints without --full.
COMPACT_LANGUAGE_COLUMNS = (
    "model", "version", "split", "language", "n", "n_negative", "balanced_accuracy",
    "balanced_accuracy_ci_low", "balanced_accuracy_ci_high", "roc_auc", "roc_auc_ci_low",
    "roc_auc_ci_high", "threshold", "note",
)

_ADDED = ("threshold", "neg_hit_rate", "neg_false_alarm_rate", "calibration_n_negative")
_VIEW_COLUMNS = [c for c in LANGUAGE_COLUMNS if c not in _ADDED]


def languages_report(store: Store, *, split: str | None = "test",
                     dataset: str = DEFAULT_DATASET, models: Sequence[str] = (),
                     latest: bool = False, min_reviews: int = 0) -> Table:
    """Rows of ``metrics_by_language`` (largest languages first), with each language's
    threshold and a note on what to know before reading the row."""
    from asaas.report import version_filter

    where, params = version_filter(store, ["dataset = :dataset", "n >= :min_n"],
                                   {"dataset": dataset, "min_n": min_reviews}, split=split,
                                   models=models, latest=latest)
    table = query(store, f"SELECT {', '.join(_VIEW_COLUMNS)} FROM metrics_by_language "
                         f"WHERE {' AND '.join(where)} "
                         "ORDER BY split, model, version, n DESC, language", params)
    cal = {(r["model_version_id"], r["language"]): r for r in query(
        store, "SELECT model_version_id, language, neg_hit_rate, neg_false_alarm_rate, "
               "n_negative FROM prevalence_calibration WHERE dataset = :dataset",
        {"dataset": dataset}).dicts()}
    # Labelled reviews a version could not score (recorded failures, e.g. no n-gram it knows):
    # they explain a coverage under 1 that is not a --limit sample.
    failed = {(r["model_version_id"], r["split"], r["language"]): r["n"] for r in query(
        store, "SELECT f.model_version_id, r.split, r.language, COUNT(*) AS n "
               "FROM prediction_failures f JOIN reviews r ON r.id = f.review_id "
               "WHERE r.dataset = :dataset AND r.label IS NOT NULL "
               "GROUP BY f.model_version_id, r.split, r.language", {"dataset": dataset}).dicts()}
    versions = {mv.id: mv for mv in list_versions(store)}
    thresholds: dict[int, Any] = {}
    rows = []
    for d in table.dicts():
        mv = versions.get(d["model_version_id"])
        threshold, note = _threshold(mv, d["language"], thresholds)
        d["threshold"] = threshold
        c = cal.get((d["model_version_id"], d["language"]), {})
        d["neg_hit_rate"], d["neg_false_alarm_rate"] = c.get("neg_hit_rate"), c.get(
            "neg_false_alarm_rate")
        d["calibration_n_negative"] = c.get("n_negative")
        few = (d["calibration_n_negative"] or 0) < FEW_CALIBRATION_NEGATIVES
        d["n_failed"] = failed.get((d["model_version_id"], d["split"], d["language"]), 0)
        notes = [n for n in (_coverage_note(d), "trained on this split: memory, not "
                             "generalisation" if d.get("trained_on_split") else None,
                             note, d.get("reason"),
                             f"only {d['calibration_n_negative'] or 0} held-out negatives to "
                             "measure its error rates on: its corrected negative share is rough"
                             if few else None) if n]
        rows.append(tuple(d[c] for c in LANGUAGE_COLUMNS) + ("; ".join(notes),))
    return Table([*LANGUAGE_COLUMNS, "note"], rows)


def _coverage_note(d: dict[str, Any]) -> str | None:
    cov, failed = d.get("coverage"), d.get("n_failed") or 0
    if cov is None or cov >= 1 or not d.get("n_labelled"):
        return None
    note = f"{failed:,} not scoreable (prediction_failures)" if failed else None
    if d["n"] + failed < d["n_labelled"]:
        sample = (f"sample: {d['n']:,} of {d['n_labelled']:,} scored "
                  f"({100 * cov:.0f}%, pseudo-random)")
        note = f"{sample}; {note}" if note else sample
    return note


def _threshold(mv: ModelVersion | None, language: str, cache: dict[int, Any]
               ) -> tuple[float | None, str | None]:
    """(threshold on P(positive), note) for ``language`` under version ``mv``."""
    if mv is None:
        return None, None
    if not mv.params.get("multilingual"):
        return 0.5, None
    if mv.id not in cache:
        from asaas.models.multilingual import load_thresholds

        try:
            cache[mv.id] = load_thresholds(mv.label, mv.artifact_uri, mv.artifact_sha256)
        except AsaasError as exc:
            cache[mv.id] = str(exc)
    found = cache[mv.id]
    if isinstance(found, str):
        return None, f"threshold unknown ({found})"
    t = found.lookup(language)
    if t is found.pooled:
        return round(t.threshold, 4), ("pooled threshold: no held-out reviews of this language "
                                       "when the version was trained")
    return round(t.threshold, 4), t.reason


def format_languages_report(table: Table, fmt: str, *, full: bool = False) -> str:
    """``table`` as `asaas report --by language` prints it (and a job's report step writes it):
    the compact columns in table and markdown unless ``full``; csv and json have them all."""
    from asaas.tables import format_table

    shown = table if full or fmt in ("csv", "json") else table.select(COMPACT_LANGUAGE_COLUMNS)
    return format_table(shown, fmt)
