"""The timeline views (sql/100-102, which asaas/timeline/series.py reads) against an independent
numpy/scipy computation on generated series with known answers: counts, Wilson intervals, the
error rates, the adjusted classify-and-count share and its delta-method interval, and the cases
with no correction; and PostgreSQL gives DuckDB's numbers (`asaas timeline` on either URL)."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pytest
from scipy import stats

from asaas.store import open_store
from asaas.tables import query
from tests import timeline_data as td
from tests.helpers import ok, query_arrow

TOL = 1e-9
Z = stats.norm.ppf(0.975)


@pytest.fixture
def store(db_path):
    return open_store(str(db_path))


@pytest.fixture
def seeded(store):
    return td.seed_store(store)


def _period(at: np.ndarray, freq: str) -> np.ndarray:
    days = at.astype("datetime64[D]")
    if freq == "day":
        return days
    if freq == "month":
        return at.astype("datetime64[M]").astype("datetime64[D]")
    monday = np.datetime64("1970-01-05")  # a Monday: weeks start on Monday in both engines
    return days - ((days - monday).astype(np.int64) % 7)


def _wilson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def _rows(store, sql: str) -> list[dict]:
    return query_arrow(store, sql).to_pylist()


def _groups(d: td.Seeded):
    """(dataset, language, freq, product, period) -> boolean mask over the reviews."""
    for dataset in np.unique(d.dataset):
        for language in ["all", *np.unique(d.language)]:
            for freq in ("day", "week", "month"):
                periods = _period(d.reviewed_at, freq)
                base = d.dataset == dataset
                if language != "all":
                    base &= d.language == language
                for pid in np.unique(d.product_id[base]):
                    sel = base & (d.product_id == pid)
                    for period in np.unique(periods[sel]):
                        yield (dataset, language, freq, int(pid), period.astype(date)), \
                            sel & (periods == period)


def test_product_timeline_matches_numpy(store, seeded):
    d = seeded
    got = {(r["dataset"], r["language"], r["freq"], r["product_id"], r["period_start"]): r
           for r in _rows(store, "SELECT * FROM product_timeline")}
    expected = dict(_groups(d))
    assert set(got) == set(expected)
    for key, mask in expected.items():
        r = got[key]
        labelled = mask & ~np.isnan(d.label)
        neg = int((d.label[labelled] == 0).sum())
        assert (r["n_reviews"], r["n_labelled"], r["n_negative"]) == \
            (mask.sum(), labelled.sum(), neg), key
        assert r["product"] == td.PRODUCTS[key[3] - 1][1]
        if labelled.sum():
            lo, hi = _wilson(neg, labelled.sum())
            assert r["observed_negative_share"] == pytest.approx(neg / labelled.sum(), abs=TOL)
            assert r["observed_ci_low"] == pytest.approx(lo, abs=TOL)
            assert r["observed_ci_high"] == pytest.approx(hi, abs=TOL)
        else:
            assert r["observed_negative_share"] is None and r["observed_ci_low"] is None


def test_weeks_start_on_monday_and_periods_are_dates(store, seeded):
    rows = _rows(store, "SELECT DISTINCT freq, period_start FROM product_timeline")
    assert {type(r["period_start"]) for r in rows} == {date}
    assert {r["period_start"].weekday() for r in rows if r["freq"] == "week"} == {0}
    assert {r["period_start"].day for r in rows if r["freq"] == "month"} == {1}
    assert date(2016, 12, 26) in {r["period_start"] for r in rows if r["freq"] == "week"}


def _calibration(d: td.Seeded, mv: int, dataset: str, language: str):
    """Held-out labelled reviews: a version trained on this dataset skips its train split."""
    _, train_dataset, _, _ = td.MODELS[mv]
    sel = (d.dataset == dataset) & ~np.isnan(d.label)
    if train_dataset == dataset:
        sel &= d.split != "train"
    if language != "all":
        sel &= d.language == language
    y, pred = d.label[sel], d.pred[mv][sel]
    n_neg, n_pos = int((y == 0).sum()), int((y == 1).sum())
    tn, fn = int(((y == 0) & (pred == 0)).sum()), int(((y == 1) & (pred == 0)).sum())
    return n_neg, n_pos, tn, fn


def test_calibration_rates_exclude_the_training_split(store, seeded):
    d = seeded
    rows = _rows(store, "SELECT * FROM prevalence_calibration")
    assert {r["model_version_id"] for r in rows} == {1, 2}  # version 3 has no predictions
    for r in rows:
        n_neg, n_pos, tn, fn = _calibration(d, r["model_version_id"], r["dataset"],
                                            r["language"])
        assert (r["n_negative"], r["n_positive"], r["tn"], r["fn"]) == (n_neg, n_pos, tn, fn)
        assert r["neg_hit_rate"] == pytest.approx(tn / n_neg, abs=TOL)
        assert r["neg_false_alarm_rate"] == pytest.approx(fn / n_pos, abs=TOL)
        assert r["separation"] == pytest.approx(tn / n_neg - fn / n_pos, abs=TOL)
    # the biased version trained on steam/train: fewer calibration reviews than the other one
    cal = {(r["model_version_id"], r["dataset"], r["language"]): r for r in rows}
    assert cal[1, "steam", "all"]["n_positive"] < cal[2, "steam", "all"]["n_positive"]
    assert cal[1, "bombs", "all"]["n_negative"] == cal[2, "bombs", "all"]["n_negative"]


def _expected_corrected(k: int, n: int, cal: tuple[int, int, int, int]):
    n_neg, n_pos, tn, fn = cal
    if n_neg == 0 or n_pos == 0:
        return None, None, None
    s, f = tn / n_neg, fn / n_pos
    if s - f < 0.1:
        return None, None, None
    q = k / n
    pi = min(1.0, max(0.0, (q - f) / (s - f)))
    q_ac = (k + Z * Z / 2) / (n + Z * Z)  # Agresti-Coull share in the sampling term
    var = (q_ac * (1 - q_ac) / (n + Z * Z) + pi ** 2 * s * (1 - s) / n_neg
           + (1 - pi) ** 2 * f * (1 - f) / n_pos) / (s - f) ** 2
    sd = math.sqrt(var)
    return pi, max(0.0, pi - Z * sd), min(1.0, pi + Z * sd)


def test_timeline_matches_independent_computation(store, seeded):
    d = seeded
    got = {(r["model_version_id"], r["dataset"], r["language"], r["freq"], r["product_id"],
            r["period_start"]): r for r in _rows(store, "SELECT * FROM timeline")}
    groups = dict(_groups(d))
    assert len(got) == 2 * len(groups)  # versions 1 and 2; version 3 was never scored
    for mv in (1, 2):
        cals = {}
        for key, mask in groups.items():
            r = got[(mv, *key)]
            dataset, language = key[0], key[1]
            n = int(mask.sum())
            k = int((d.pred[mv][mask] == 0).sum())
            assert (r["n_reviews"], r["n_predicted_negative"]) == (n, k)
            assert r["model_label"] == f"{td.MODELS[mv][0]} v1"
            q = k / n
            lo, hi = _wilson(k, n)
            assert r["predicted_negative_share"] == pytest.approx(q, abs=TOL)
            assert r["predicted_ci_low"] == pytest.approx(lo, abs=TOL)
            assert r["predicted_ci_high"] == pytest.approx(hi, abs=TOL)
            assert r["mean_prob_positive"] == pytest.approx(d.prob[mv][mask].mean(), abs=TOL)
            labelled = mask & ~np.isnan(d.label)
            assert r["n_labelled"] == labelled.sum()
            if labelled.sum():
                neg = int((d.label[labelled] == 0).sum())
                assert r["observed_negative_share"] == pytest.approx(neg / labelled.sum(),
                                                                     abs=TOL)
                assert (r["observed_ci_low"], r["observed_ci_high"]) == pytest.approx(
                    _wilson(neg, labelled.sum()), abs=TOL)
            cal = cals.setdefault((dataset, language), _calibration(d, mv, dataset, language))
            pi, pi_lo, pi_hi = _expected_corrected(k, n, cal)
            assert (r["calibration_n_negative"], r["calibration_n_positive"]) == cal[:2]
            if pi is None:
                assert r["corrected_negative_share"] is None
                assert r["corrected_ci_low"] is None and r["corrected_ci_high"] is None
                assert r["corrected_reason"]
            else:
                assert r["corrected_reason"] is None
                assert r["corrected_negative_share"] == pytest.approx(pi, abs=TOL)
                assert r["corrected_ci_low"] == pytest.approx(pi_lo, abs=TOL)
                assert r["corrected_ci_high"] == pytest.approx(pi_hi, abs=TOL)


def test_corrected_share_recovers_the_known_prevalence(db_path):
    """A classifier with s = 0.7, f = 0.15 overstates a 5% negative share about 3.5-fold; the
    corrected share finds the true share within its interval, the raw one does not."""
    store = open_store(str(db_path))
    td.seed_store(store, td.generate(seed=7, per_month=(1500, 2500)))
    rows = _rows(store, "SELECT product_id, period_start, predicted_ci_low, predicted_ci_high, "
                        "corrected_negative_share, corrected_ci_low, corrected_ci_high "
                        "FROM timeline WHERE model_version_id = 1 AND freq = 'month' "
                        "AND language = 'all' AND dataset = 'steam'")
    assert len(rows) == 12
    raw_covers = corrected_covers = 0
    for r in rows:
        truth = td.PREVALENCE[r["product_id"]][r["period_start"].month - 1]
        raw_covers += r["predicted_ci_low"] <= truth <= r["predicted_ci_high"]
        corrected_covers += r["corrected_ci_low"] <= truth <= r["corrected_ci_high"]
        assert abs(r["corrected_negative_share"] - truth) < 0.05
    assert raw_covers <= 2  # classify-and-count is off in (almost) every month
    assert corrected_covers >= 11  # a 95% interval may miss one month in twelve


def test_no_correction_without_calibration_or_separation(db_path):
    store = open_store(str(db_path))
    data = td.generate(seed=3)
    data.label[data.dataset == "bombs"] = np.nan  # nothing to measure the error rates on
    td.seed_store(store, data)
    rows = _rows(store, "SELECT model_version_id, dataset, corrected_negative_share, "
                        "corrected_ci_low, corrected_reason FROM timeline")
    for r in rows:
        if r["dataset"] == "bombs":
            assert r["corrected_negative_share"] is None and r["corrected_ci_low"] is None
            assert "no held-out labelled negatives" in r["corrected_reason"]
        elif r["model_version_id"] == 2:
            assert r["corrected_negative_share"] is None
            assert "s - f < 0.1" in r["corrected_reason"]
        else:
            assert r["corrected_negative_share"] is not None and r["corrected_reason"] is None
    assert {r["dataset"] for r in rows} == {"steam", "bombs"}


def test_interval_does_not_collapse_when_the_model_calls_nothing_negative(store, seeded):
    """With the plain q(1-q)/n term a period with no predicted negative got a near-zero width
    interval; the Agresti-Coull term keeps it honest for small periods."""
    rows = _rows(store, "SELECT n_reviews, corrected_ci_low, corrected_ci_high FROM timeline "
                        "WHERE model_version_id = 1 AND n_predicted_negative = 0 "
                        "AND n_reviews BETWEEN 3 AND 20")
    assert rows  # small days where the biased model called nothing negative
    for r in rows:
        assert r["corrected_ci_low"] == 0.0
        assert r["corrected_ci_high"] > 0.1, r


# -- the same numbers on PostgreSQL --------------------------------------------------------------


VIEWS = {
    "product_timeline": ("dataset", "language", "freq", "product_id", "period_start"),
    "prevalence_calibration": ("model_version_id", "dataset", "language"),
    "timeline": ("model_version_id", "dataset", "language", "freq", "product_id",
                 "period_start"),
}


def _by_key(store, view: str) -> dict:
    key = VIEWS[view]
    rows = query(store, f"SELECT * FROM {view}").dicts()  # PostgreSQL's NUMERIC as floats
    return {tuple(r[k] for k in key): r for r in rows}


def test_timeline_views_same_on_postgres(pg_server, db_path, invoke):
    data = td.generate(seed=5, per_month=(40, 90))
    duck = open_store(str(db_path))
    pg_url = pg_server()
    pg = open_store(pg_url)
    for store in (duck, pg):
        td.seed_store(store, data)
    for view in VIEWS:
        a, b = _by_key(duck, view), _by_key(pg, view)
        assert a.keys() == b.keys() and len(a) > 10, view
        for key, row in a.items():
            other = b[key]
            assert row.keys() == other.keys()
            for col, value in row.items():
                if isinstance(value, float):
                    assert other[col] == pytest.approx(value, abs=1e-9), (view, key, col)
                else:
                    assert other[col] == value, (view, key, col)
    outputs = [json.loads(ok(invoke("timeline", "Pit Pals", "--db", url, "--freq", "month",
                                    "--format", "json")))
               for url in (str(db_path), pg_url)]
    assert len(outputs[0]) == len(outputs[1]) == 12  # 6 months x 2 scored versions
    for a, b in zip(*outputs):
        assert a.keys() == b.keys()
        for col in a:
            if isinstance(a[col], float):
                assert b[col] == pytest.approx(a[col], abs=1e-9), col
            else:
                assert b[col] == a[col], col
    pg.engine.dispose()
