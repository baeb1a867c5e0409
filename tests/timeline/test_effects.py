"""Effects of events (asaas/timeline/effects.py, daily.py): the daily view, before/after with
Newcombe's interval, and the segmented regression with Newey-West intervals, each checked against
an independent computation on series with known answers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from asaas.timeline import effects as fx
from asaas.timeline.events import Event, add_event
from asaas.timeline.intervals import share_difference, wilson_interval
from tests.events_alerts_data import Review, daily_series, write_predictions, write_reviews
from tests.helpers import err, ok, q

T0 = datetime(2020, 1, 1)


# -- statistics against published or independent numbers ----------------------------------------


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, table II example (b): 56/70 vs 48/80,
    # method 10 (hybrid score): 0.0524 to 0.3339.
    diff, lo, hi = share_difference(56, 70, 48, 80)
    assert diff == pytest.approx(56 / 70 - 48 / 80)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    assert share_difference(0, 0, 3, 10) == (None, None, None)


def test_wilson_interval_matches_the_formula():
    k, n, z = 7, 40, 1.959963984540054
    p = k / n
    centre, half = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx((centre - half) / (1 + z * z / n), abs=1e-12)
    assert hi == pytest.approx((centre + half) / (1 + z * z / n), abs=1e-12)
    assert wilson_interval(0, 0) == (None, None)


def _numpy_segmented(t, y, w, lags):
    """WLS and a Newey-West (Bartlett) sandwich written out in numpy, with statsmodels'
    reference distribution t(n - k) (statsmodels does not rescale HAC by n / (n - k))."""
    t = np.asarray(t, float)
    d = (t >= 0).astype(float)
    x = np.column_stack([np.ones_like(t), t, d, t * d])
    sw = np.sqrt(w)
    xw, yw = x * sw[:, None], y * sw
    bread = np.linalg.inv(xw.T @ xw)
    beta = bread @ xw.T @ yw
    u = (yw - xw @ beta)[:, None] * xw
    meat = u.T @ u
    for lag in range(1, lags + 1):
        g = u[lag:].T @ u[:-lag]
        meat += (1 - lag / (lags + 1)) * (g + g.T)
    n, k = x.shape
    cov = bread @ meat @ bread
    return beta, np.sqrt(np.diag(cov))


def test_segmented_regression_matches_numpy():
    rng = np.random.default_rng(3)
    t = np.arange(-20, 20)
    w = rng.integers(20, 80, size=len(t)).astype(float)
    y = 0.05 + 0.001 * t + 0.08 * (t >= 0) + 0.002 * t * (t >= 0) + rng.normal(0, 0.02, len(t))
    fit = fx.segmented_regression(t, y, w, lags=3)
    beta, se = _numpy_segmented(t, y, w, 3)
    assert fit.level_change == pytest.approx(beta[2], abs=1e-10)
    assert fit.trend_change == pytest.approx(beta[3], abs=1e-10)
    from scipy.stats import t as student

    q975 = student.ppf(0.975, len(t) - 4)
    assert fit.level_ci[0] == pytest.approx(beta[2] - q975 * se[2], abs=1e-9)
    assert fit.trend_ci[1] == pytest.approx(beta[3] + q975 * se[3], abs=1e-9)
    assert fx.newey_west_lags(len(t)) == 3  # floor(4 (40/100)^(2/9))


def test_event_periods_never_mix_the_two_sides():
    days = pd.DataFrame({"n": 1, "neg": 0}, index=pd.date_range("2020-01-01", periods=31,
                                                                name="day"))
    periods = fx.event_periods(days, pd.Timestamp("2020-01-16"), 7, 100)
    # 15 days before: periods -1 (7 days), -2 (7), -3 (1); 15 after: 0, 1, 2 likewise.
    assert periods.set_index("t")["n"].to_dict() == {-3: 1, -2: 7, -1: 7, 0: 7, 1: 7, 2: 1}


# -- effects on generated series -----------------------------------------------------------------


def _shifted_product(db_path, level_after=0.15, seed=0, product="100"):
    n = [40] * 240
    share = [0.05] * 120 + [level_after] * 120
    store = write_reviews(db_path, daily_series(product, T0, n, share, seed=seed))
    add_event(store, product, T0 + timedelta(days=120), "patch", "Patch that broke saves")
    return store


def test_a_planted_level_shift_is_found(db_url):
    store = _shifted_product(db_url)
    (effect,) = fx.event_effects(store)
    assert effect.reason is None
    assert effect.diff_significant and effect.its_significant
    assert effect.diff_ci[0] < 0.10 < effect.diff_ci[1]
    assert effect.fit.level_ci[0] < 0.10 < effect.fit.level_ci[1]
    assert effect.fit.trend_ci[0] < 0 < effect.fit.trend_ci[1]  # no trend was planted
    # 120 days before the event: 17 weeks and one day; 119 after: 17 weeks.
    assert (effect.periods_before, effect.periods_after) == (18, 17)
    # The windows leave the event's own day out.
    assert effect.n_before == effect.n_after == 30 * 40


def test_before_after_counts_match_pandas(db_path):
    store = _shifted_product(db_path, seed=5)
    (effect,) = fx.event_effects(store, window_days=10)
    frame = pd.DataFrame(q(db_path, "SELECT reviewed_at, label FROM reviews"),
                         columns=["at", "label"])
    day = frame["at"].dt.normalize()
    event = pd.Timestamp(T0 + timedelta(days=120))
    before = frame[(day >= event - pd.Timedelta(days=10)) & (day < event)]
    after = frame[(day > event) & (day <= event + pd.Timedelta(days=10))]
    assert (effect.n_before, effect.neg_before) == (len(before), int((before.label == 0).sum()))
    assert (effect.n_after, effect.neg_after) == (len(after), int((after.label == 0).sum()))


def test_a_flat_series_is_rarely_significant():
    """On 40 flat series the 5% tests reject about 5% of the time (HAC keeps them honest)."""
    rejections = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        days = pd.DataFrame({"n": 30, "neg": rng.binomial(30, 0.06, 240)},
                            index=pd.date_range("2020-01-01", periods=240, name="day"))
        event = Event(1, 1, "1", None, datetime(2020, 5, 1), "patch", "p", "manual")
        effect = fx.effect_of(event, days)
        rejections += bool(effect.fit.level_p < 0.05)
    assert rejections <= 6


def test_too_few_periods_says_so(db_path):
    store = write_reviews(db_path, daily_series("100", T0, [20] * 20, [0.1] * 20))
    add_event(store, "100", T0 + timedelta(days=10), "patch", "p")
    (effect,) = fx.event_effects(store)
    assert effect.fit is None and effect.its_significant is None
    assert "too few weeks with reviews for the segmented regression (2 before, 2 after" in \
        effect.reason
    assert effect.n_before == 200  # the before/after comparison still works
    (daily,) = fx.event_effects(store, freq="day", its_days=10)
    assert daily.fit is not None and daily.periods_before == 10


def test_an_event_with_no_reviews_after(db_path):
    store = write_reviews(db_path, daily_series("100", T0, [5] * 30, [0.1] * 30))
    add_event(store, "100", T0 + timedelta(days=200), "patch", "late")
    (effect,) = fx.event_effects(store)
    assert effect.diff is None and "no reviews before the event" in effect.reason


@pytest.mark.parametrize("kwargs, message", [
    ({"freq": "month"}, "unknown period 'month'"),
    ({"window_days": 0}, "--window-days must be at least 1"),
    ({"its_days": 20}, "leaves fewer than 4 periods"),
    ({"source": "nomodel"}, "no model named 'nomodel'"),
    ({"source": "m:x"}, "bad source"),
])
def test_bad_options(db_path, kwargs, message):
    store = _shifted_product(db_path)
    with pytest.raises(Exception, match=message):
        fx.event_effects(store, **kwargs)


# -- the daily view ------------------------------------------------------------------------------


def test_product_daily_view_matches_pandas(db_url):
    rows = daily_series("100", T0, [3, 0, 5, 7], [0.34, 0, 0.4, 0.15], exact=True)
    rows += daily_series("200", T0, [2, 2], [0.5, 1.0], exact=True)
    rows += [Review("100", T0 + timedelta(days=1, hours=23, minutes=59), None)]  # unlabelled
    store = write_reviews(db_url, rows)
    mv = write_predictions(store, "judge", lambda text, label: 0.2 if "refund" in text else 0.9)
    frame = pd.DataFrame(q(db_url, "SELECT p.external_id, r.reviewed_at, r.label, r.text "
                                    "FROM reviews r JOIN products p ON p.id = r.product_id"),
                         columns=["product", "at", "label", "text"])
    frame["day"] = frame["at"].dt.date
    labelled = frame.dropna(subset=["label"])
    expected = labelled.groupby(["product", "day"]).agg(
        n=("label", "size"), neg=("label", lambda s: int((s == 0).sum()))).reset_index()
    got = q(db_url, "SELECT p.external_id, d.day, d.n_reviews, d.n_negative FROM product_daily d"
                     " JOIN products p ON p.id = d.product_id WHERE d.source = 'labels' "
                     "ORDER BY 1, 2")
    assert got == [tuple(r) for r in expected.itertuples(index=False)]
    predicted = frame.assign(neg=frame["text"].str.contains("refund")).groupby(
        ["product", "day"]).agg(n=("neg", "size"), neg=("neg", "sum")).reset_index()
    got = q(db_url, "SELECT p.external_id, d.day, d.n_reviews, d.n_negative FROM product_daily d"
                     f" JOIN products p ON p.id = d.product_id WHERE d.model_version_id = {mv} "
                     "ORDER BY 1, 2")
    assert got == [(a, b, int(c), int(d)) for a, b, c, d in predicted.itertuples(index=False)]


# -- the CLI -------------------------------------------------------------------------------------


def test_cli_effects_every_option(db_path, invoke):
    store = _shifted_product(db_path)
    write_predictions(store, "judge", lambda text, label: 0.1 if "refund" in text else 0.8)
    out = ok(invoke("events", "effects"))
    assert "diff_significant" in out and "yes" in out and "trend_p" not in out
    rows = json.loads(ok(invoke("events", "effects", "100", "--format", "json",
                                "--window-days", "14", "--its-days", "56", "--freq", "day",
                                "--kind", "patch", "--source", "judge:1",
                                "--dataset", "steam")))
    (row,) = rows
    assert (row["window_days"], row["source"], row["kind"]) == (14, "judge v1", "patch")
    assert row["n_before"] == row["n_after"] == 14 * 40
    assert row["periods_before"] == 56 and row["its_significant"] == "yes"
    full = ok(invoke("events", "effects", "--full", "--format", "markdown"))
    assert "trend_p" in full.splitlines()[0]
    assert "no events to measure" in ok(invoke("events", "effects", "--kind", "price"))
    other = json.loads(ok(invoke("events", "effects", "--dataset", "other", "--format", "json")))
    assert other[0]["n_before"] == 0 and "no reviews before the event" in other[0]["reason"]


@pytest.mark.parametrize("args, message", [
    (["--source", "missing"], "no model named 'missing'"),
    (["--its-days", "14"], "leaves fewer than 4 periods"),
    (["nope"], "unknown product 'nope'"),
])
def test_cli_effects_bad_input(db_path, invoke, args, message):
    _shifted_product(db_path)
    assert message in err(invoke("events", "effects", *args))


def test_cli_effects_rejects_bad_numbers(db_path, invoke):
    _shifted_product(db_path)
    result = invoke("events", "effects", "--window-days", "0")
    assert result.exit_code == 2 and "Traceback" not in result.output
    result = invoke("events", "effects", "--freq", "month")
    assert result.exit_code == 2 and "month" in result.output
