"""Prevalence benchmark: how far each model's negative share per product-month is from the truth
(Steam's recommend flag), raw (classify and count) against corrected (adjusted classify and
count, the `timeline` view), on the test-period reviews of one language.

    python bench/prevalence_bench.py --db /tmp/steamwork/asaas.duckdb \
        --model tfidf-lr --model bow-rf --model steam-tfidf --language english

The database must hold the Steam reviews (`asaas ingest --format steam ... --split-before DATE`)
and each model's predictions on them (`asaas score --model NAME --dataset steam --split all`);
bench/README.md has the full recipe.

For every model it prints, over the product-months from the first test-period month on:
mean absolute error of the raw and corrected shares (unweighted, and weighted by reviews), the
probability-average estimate (1 - mean P(positive)) for comparison, the coverage and mean width
of the 95% intervals, and the classifier's balanced accuracy and ROC AUC on those reviews.

Two corrections are scored. "view" is what `timeline` shows: the error rates s and f come from
every held-out labelled review of the dataset and language, the evaluated months included. "LOPO"
(leave one product out) measures s and f on the other products only, as for a product whose
reviews carry no labels at all: the honest figure for unlabelled sources.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
Z = 1.959963984540054
#: Product-month sizes (reviews) the errors are also broken down by.
BUCKETS = ((1, 30), (30, 100), (100, 300), (300, 10**9))


def _query(store, sql: str, params: dict) -> list[dict]:
    from asaas.tables import query

    return query(store, sql, params).dicts()


def version_id(store, ref: str, dataset: str) -> tuple[int, str]:
    from asaas.timeline.series import pick_versions

    picked = pick_versions(store, [ref], dataset)[0]
    return picked.id, picked.label


def adjusted(k, n, s, f, n_neg, n_pos):
    """Adjusted classify and count with its delta-method interval, as sql/102_timeline.sql
    (k of n reviews called negative; the sampling term uses the Agresti-Coull share)."""
    k, n, s, f = map(np.asarray, (k, n, s, f))
    sep = s - f
    ok = sep >= 0.1
    q, q_ac = k / n, (k + Z * Z / 2) / (n + Z * Z)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.clip((q - f) / sep, 0, 1)
        var = (q_ac * (1 - q_ac) / (n + Z * Z) + pi ** 2 * s * (1 - s) / n_neg
               + (1 - pi) ** 2 * f * (1 - f) / n_pos) / sep ** 2
    sd = np.sqrt(var)
    nan = np.full(pi.shape, np.nan)
    return (np.where(ok, pi, nan), np.where(ok, np.clip(pi - Z * sd, 0, 1), nan),
            np.where(ok, np.clip(pi + Z * sd, 0, 1), nan))


def evaluate(store, ref: str, *, dataset: str, language: str, since: str, min_n: int) -> dict:
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    mv, label = version_id(store, ref, dataset)
    rows = _query(store, """
        SELECT product_id, period_start, n_reviews, n_labelled, observed_negative_share,
               n_predicted_negative, predicted_negative_share, predicted_ci_low, predicted_ci_high,
               corrected_negative_share, corrected_ci_low, corrected_ci_high,
               mean_prob_positive, neg_hit_rate, neg_false_alarm_rate,
               calibration_n_negative, calibration_n_positive
        FROM timeline
        WHERE model_version_id = :mv AND dataset = :dataset AND language = :language
          AND freq = 'month' AND period_start >= :since AND n_labelled >= :min_n
        ORDER BY product_id, period_start""",
                  {"mv": mv, "dataset": dataset, "language": language, "since": since,
                   "min_n": max(min_n, 1)})
    if not rows:
        raise SystemExit(f"{label}: no scored {language} {dataset} product-months from {since}")
    col = {k: np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=float)
           for k in rows[0] if k != "period_start"}
    truth, n = col["observed_negative_share"], col["n_reviews"]
    # Held-out labelled counts per product, to leave each product out of its own error rates.
    per_product = _query(store, """
        SELECT r.product_id,
               SUM(CASE WHEN r.label = 0 THEN 1 ELSE 0 END) AS n_neg,
               SUM(CASE WHEN r.label = 1 THEN 1 ELSE 0 END) AS n_pos,
               SUM(CASE WHEN r.label = 0 AND p.label = 0 THEN 1 ELSE 0 END) AS tn,
               SUM(CASE WHEN r.label = 1 AND p.label = 0 THEN 1 ELSE 0 END) AS fn
        FROM predictions p JOIN reviews r ON r.id = p.review_id
        JOIN model_versions v ON v.id = p.model_version_id
        WHERE p.model_version_id = :mv AND r.dataset = :dataset AND r.label IS NOT NULL
          AND (:language = 'all' OR r.language = :language)
          AND NOT (v.train_dataset IS NOT NULL AND v.train_dataset = r.dataset
                   AND r.split = COALESCE(v.train_split, 'train'))
        GROUP BY r.product_id""", {"mv": mv, "dataset": dataset, "language": language})
    counts = {r["product_id"]: r for r in per_product}
    tot = {k: sum(r[k] for r in per_product) for k in ("n_neg", "n_pos", "tn", "fn")}
    mine = [counts.get(int(p), {"n_neg": 0, "n_pos": 0, "tn": 0, "fn": 0})
            for p in col["product_id"]]
    l_neg = np.array([tot["n_neg"] - c["n_neg"] for c in mine], float)
    l_pos = np.array([tot["n_pos"] - c["n_pos"] for c in mine], float)
    l_s = np.array([tot["tn"] - c["tn"] for c in mine], float) / l_neg
    l_f = np.array([tot["fn"] - c["fn"] for c in mine], float) / l_pos
    q = col["predicted_negative_share"]
    k = col["n_predicted_negative"]
    lopo = adjusted(k, n, l_s, l_f, l_neg, l_pos)
    # The numbers above reproduce the view's when nobody is left out: a check of this script.
    same = adjusted(k, n, col["neg_hit_rate"], col["neg_false_alarm_rate"],
                    col["calibration_n_negative"], col["calibration_n_positive"])
    for mine_, views in zip(same, ("corrected_negative_share", "corrected_ci_low",
                                   "corrected_ci_high")):
        assert np.allclose(mine_, col[views], atol=1e-9, equal_nan=True), views
    estimates = {
        "raw": (q, col["predicted_ci_low"], col["predicted_ci_high"]),
        "corrected (view)": (col["corrected_negative_share"], col["corrected_ci_low"],
                             col["corrected_ci_high"]),
        "corrected (LOPO)": lopo,
        "probability average": (1 - col["mean_prob_positive"], None, None),
    }
    buckets = {}
    for lo_n, hi_n in BUCKETS:
        sel = (n >= lo_n) & (n < hi_n) & ~np.isnan(col["corrected_negative_share"])
        if sel.any():
            buckets[(lo_n, hi_n)] = (int(sel.sum()), float(np.abs(q - truth)[sel].mean()),
                                     float(np.abs(col["corrected_negative_share"]
                                                  - truth)[sel].mean()))
    # Whole test period per product: the months' counts summed, the same estimators.
    pids = np.unique(col["product_id"])
    sums = {name: np.array([col[name][col["product_id"] == p].sum() for p in pids])
            for name in ("n_reviews", "n_predicted_negative")}
    neg = np.array([(truth * col["n_labelled"])[col["product_id"] == p].sum() for p in pids])
    lab = np.array([col["n_labelled"][col["product_id"] == p].sum() for p in pids])
    whole = adjusted(sums["n_predicted_negative"], sums["n_reviews"], col["neg_hit_rate"][0],
                     col["neg_false_alarm_rate"][0], col["calibration_n_negative"][0],
                     col["calibration_n_positive"][0])
    p_truth = neg / lab
    p_raw = sums["n_predicted_negative"] / sums["n_reviews"]
    per_product = (len(pids), float(np.abs(p_raw - p_truth).mean()),
                   float(np.abs(whole[0] - p_truth).mean()),
                   float(((whole[1] <= p_truth + 1e-12) & (p_truth <= whole[2] + 1e-12)).mean()))
    out = {"model": label, "product_months": len(rows), "reviews": int(n.sum()),
           "buckets": buckets, "per_product": per_product,
           "products": len(set(col["product_id"])),
           "s": float(col["neg_hit_rate"][0]), "f": float(col["neg_false_alarm_rate"][0]),
           "true_share": float(np.average(truth, weights=n)), "estimates": {}}
    for name, (est, lo, hi) in estimates.items():
        ok = ~np.isnan(est)
        err = np.abs(est - truth)[ok]
        row = {"n": int(ok.sum()), "mae": float(err.mean()) if ok.any() else np.nan,
               "wmae": float(np.average(err, weights=n[ok])) if ok.any() else np.nan,
               "bias": float(np.average((est - truth)[ok], weights=n[ok])) if ok.any()
               else np.nan}
        if lo is not None and ok.any():
            inside = (lo[ok] - 1e-12 <= truth[ok]) & (truth[ok] <= hi[ok] + 1e-12)
            row["coverage"] = float(inside.mean())
            row["width"] = float((hi[ok] - lo[ok]).mean())
        out["estimates"][name] = row
    # The classifier itself on the same reviews.
    pred = _query(store, """
        SELECT r.label AS y, p.label AS yhat, p.prob_positive AS score
        FROM predictions p JOIN reviews r ON r.id = p.review_id
        WHERE p.model_version_id = :mv AND r.dataset = :dataset AND r.label IS NOT NULL
          AND (:language = 'all' OR r.language = :language) AND r.reviewed_at >= :since
          AND r.product_id IS NOT NULL""",
                  {"mv": mv, "dataset": dataset, "language": language, "since": since})
    y = np.array([r["y"] for r in pred])
    out["balanced_accuracy"] = float(balanced_accuracy_score(y, [r["yhat"] for r in pred]))
    out["roc_auc"] = float(roc_auc_score(y, [r["score"] for r in pred]))
    out["test_reviews"] = len(y)
    return out


def first_test_month(store, dataset: str) -> str:
    start = _query(store, "SELECT MIN(reviewed_at) AS t FROM reviews WHERE dataset = :d AND "
                          "split = 'test'", {"d": dataset})[0]["t"]
    if start is None:
        raise SystemExit(f"no test-split reviews in {dataset}: ingest with --split-before DATE")
    month = start.date().replace(day=1)
    if month < start.date():  # a month that began in the training period is left out
        month = (month + timedelta(days=32)).replace(day=1)
    return month.isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database with scored Steam reviews")
    parser.add_argument("--model", dest="models", action="append", default=[],
                        help="NAME[:VERSION] (repeatable)")
    parser.add_argument("--dataset", default="steam")
    parser.add_argument("--language", default="english")
    parser.add_argument("--since", help="first month (default: the first whole test month)")
    parser.add_argument("--min-n", type=int, default=1,
                        help="leave out product-months with fewer labelled reviews")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from asaas.store import open_store

    store = open_store(args.db)
    since = args.since or first_test_month(store, args.dataset)
    print(f"{args.dataset}, language {args.language}, product-months from {since}, "
          f"at least {args.min_n} labelled reviews each")
    print("| model | bal. acc | ROC AUC | s | f | product-months | estimate | MAE | weighted MAE "
          "| weighted bias | 95% CI coverage | mean CI width |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    results = []
    for ref in args.models or ["tfidf-lr"]:
        r = evaluate(store, ref, dataset=args.dataset, language=args.language, since=since,
                     min_n=args.min_n)
        head = (f"| {r['model']} | {r['balanced_accuracy']:.3f} | {r['roc_auc']:.3f} | "
                f"{r['s']:.3f} | {r['f']:.3f} | {r['product_months']} ({r['reviews']:,} reviews,"
                f" true share {r['true_share']:.3f}) ")
        for name, e in r["estimates"].items():
            cov = f"{e['coverage']:.3f}" if "coverage" in e else "-"
            width = f"{e['width']:.3f}" if "width" in e else "-"
            missing = f" ({r['product_months'] - e['n']} not corrected)" \
                if e["n"] < r["product_months"] else ""
            print(f"{head}| {name}{missing} | {e['mae']:.4f} | {e['wmae']:.4f} | "
                  f"{e['bias']:+.4f} | {cov} | {width} |")
            head = "| | | | | | "
        results.append(r)
    print("\nMean absolute error by product-month size (reviews):")
    print("| model | " + " | ".join(f"{lo}-{hi - 1 if hi < 10**9 else ''} raw / corrected"
                                     for lo, hi in BUCKETS) + " |")
    print("|---|" + "---|" * len(BUCKETS))
    for r in results:
        cells = [f"{b[1]:.4f} / {b[2]:.4f} ({b[0]} months)" if (b := r["buckets"].get(key))
                 else "-" for key in BUCKETS]
        print(f"| {r['model']} | " + " | ".join(cells) + " |")
    print("\nPer product over the whole test period (its months' reviews together):")
    print("| model | products | MAE raw | MAE corrected | corrected 95% CI coverage |")
    print("|---|---|---|---|---|")
    for r in results:
        k, raw, corr, cov = r["per_product"]
        print(f"| {r['model']} | {k} | {raw:.4f} | {corr:.4f} | {cov:.3f} |")


if __name__ == "__main__":
    main()
