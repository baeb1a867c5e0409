"""Alerts (asaas/timeline/alerts.py, with its rules: spikes, changepoints, explain): planted
spikes and shifts are found where they were planted, flat series raise
nothing, and the rules agree with an independent pandas / brute-force computation."""

from __future__ import annotations

import itertools
import json
import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from asaas.timeline import alerts as al
from asaas.timeline import changepoints as cp
from asaas.timeline import explain as ex
from asaas.timeline import spikes
from asaas.timeline.rules import KINDS, AlertError, AlertRule, rule_from_options
from asaas.timeline.products import Product
from tests.events_alerts_data import Review, daily_series, write_predictions, write_reviews
from tests.helpers import err, ok, q

T0 = datetime(2020, 1, 1)
D0 = date(2020, 1, 1)


def _frame(series: dict[int, tuple[list[int], list[int]]], start: date = D0) -> pd.DataFrame:
    rows = []
    for pid, (n, neg) in series.items():
        for i, (a, b) in enumerate(zip(n, neg)):
            if a:
                rows.append((pid, pd.Timestamp(start) + pd.Timedelta(days=i), a, b))
    return pd.DataFrame(rows, columns=["product_id", "day", "n", "neg"])


def _products(ids) -> dict[int, Product]:
    return {i: Product(i, "steam", str(i), f"Game {i}") for i in ids}


def _flat(days: int, n: int = 20, share: float = 0.05, seed: int = 0) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(n, days)
    return list(counts), list(rng.binomial(counts, share))


def _detect(series, rule=None, **kw):
    return al.detect_frame(_frame(series), _products(series), rule or AlertRule(), **kw)


# -- the daily rules -----------------------------------------------------------------------------


def test_a_planted_negative_spike_is_found_where_it_was_planted():
    n, neg = _flat(200)
    for day in (100, 101, 102):
        n[day] += 40
        neg[day] += 40
    found = _detect({1: (n, neg)}, AlertRule(kinds=("negative", "volume"))).alerts
    assert [(a.kind, a.start, a.end) for a in found] == [
        ("negative", D0 + timedelta(days=100), D0 + timedelta(days=102))]
    (alert,) = found
    assert alert.n_negative == sum(neg[100:103]) and alert.n_reviews == sum(n[100:103])
    assert alert.expected_negative == pytest.approx(np.mean(neg[72:100]) * 3)
    assert alert.baseline_share == pytest.approx(sum(neg[72:100]) / sum(n[72:100]))
    assert alert.id == "negative:1:2020-04-10" and alert.days == 3


def test_a_flat_series_raises_no_alert():
    series = {pid: _flat(400, seed=pid) for pid in range(1, 6)}
    assert _detect(series).alerts == []


def test_a_positive_bomb_is_a_volume_alert_and_not_a_negative_one():
    n, neg = _flat(200)
    n[150] += 80  # 80 extra positive reviews
    found = _detect({1: (n, neg)}).alerts
    assert [(a.kind, a.start) for a in found] == [("volume", D0 + timedelta(days=150))]
    assert _detect({1: (n, neg)}, AlertRule(kinds=("negative",))).alerts == []


def test_minimum_negative_volume():
    n, neg = [2] * 100, [0] * 100
    n[60], neg[60] = 10, 8  # 8 negatives out of nowhere: under the default minimum of 10
    assert _detect({1: (n, neg)}).alerts == []
    found = _detect({1: (n, neg)}, AlertRule(min_negative=5)).alerts
    assert [(a.kind, a.start) for a in found] == [("negative", D0 + timedelta(days=60))]


def test_more_negatives_that_are_only_more_reviews_are_not_an_alert():
    """A launch-day rush at the usual negative share: the Wilson condition holds it back."""
    n, neg = [100] * 60, [10] * 60
    n[50], neg[50] = 1000, 100
    found = _detect({1: (n, neg)}, AlertRule(kinds=("negative",))).alerts
    assert found == []


def test_no_alert_before_the_history_is_long_enough():
    n, neg = [5] * 60, [0] * 60
    n[10], neg[10] = 60, 60  # day 10: only 10 days of history (< 14)
    assert _detect({1: (n, neg)}).alerts == []
    assert len(_detect({1: (n, neg)}, AlertRule(min_history_days=7)).alerts) == 1


def test_merge_gap():
    n, neg = _flat(200)
    for day in (100, 102):
        n[day] += 40
        neg[day] += 40
    merged = _detect({1: (n, neg)}, AlertRule(kinds=("negative",))).alerts
    assert [(a.start, a.end) for a in merged] == [(D0 + timedelta(days=100),
                                                   D0 + timedelta(days=102))]
    apart = _detect({1: (n, neg)}, AlertRule(kinds=("negative",), merge_gap_days=0)).alerts
    assert [a.start for a in apart] == [D0 + timedelta(days=100), D0 + timedelta(days=102)]


def test_platform_days_are_not_product_alerts():
    series = {pid: _flat(120, seed=pid) for pid in range(1, 13)}
    for pid in series:  # a sale: every product's volume triples on days 80-81
        for day in (80, 81):
            series[pid][0][day] += 80
    bombed = _flat(120, seed=99)
    bombed[0][80] += 50
    bombed[1][80] += 50
    series[13] = bombed
    found = _detect(series, AlertRule(kinds=("negative", "volume")))
    assert found.platform_days == [D0 + timedelta(days=80), D0 + timedelta(days=81)]
    assert [(a.product_id, a.kind) for a in found.alerts] == [(13, "negative")]
    # Too few products to tell a sale from twelve bombs: with a higher minimum the twelve
    # alert (product 13's burst stays its negative alert, never a volume alert as well).
    alone = _detect(series, AlertRule(kinds=("volume",), platform_min_products=20))
    assert alone.platform_days == [] and len(alone.alerts) == 12
    assert 13 not in {a.product_id for a in alone.alerts}


def test_daily_rule_matches_pandas():
    """The negative and volume rules re-derived with pandas rolling windows and statsmodels'
    Wilson interval, on a bursty random series."""
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(7)
    n = rng.poisson(rng.choice([3, 12, 40], 300))
    neg = rng.binomial(n, 0.08)
    bursts = rng.choice(np.arange(20, 300), 12, replace=False)
    neg[bursts] += rng.integers(5, 40, 12)
    n[bursts] += neg[bursts]
    rule = AlertRule(min_negative=4, volume_z=4, min_volume=10)
    days = pd.DataFrame({"n": n, "neg": neg}, index=pd.date_range("2020-01-01", periods=300))
    flags = spikes.daily_flags(days, rule)

    def robust(series: pd.Series, z: float) -> pd.Series:
        window = series.shift(1).rolling(28, min_periods=14)
        med = window.median()
        mad = series.shift(1).rolling(28, min_periods=14).apply(
            lambda w: np.nanmedian(np.abs(w - np.nanmedian(w))), raw=True)
        return med + z * np.maximum(1.4826 * mad, np.sqrt(np.maximum(med, 1)))

    s_n, s_neg = days["n"], days["neg"]
    base_share = (s_neg.shift(1).rolling(28, min_periods=14).sum()
                  / s_n.shift(1).rolling(28, min_periods=14).sum()).fillna(0)
    lower = np.array([proportion_confint(k, m, method="wilson")[0] if m else 0.0
                      for k, m in zip(neg, n)])
    expected_neg = ((s_neg >= 4) & (s_neg > robust(s_neg, 5)) & (lower > base_share)).to_numpy()
    expected_vol = ((s_n >= 10) & (s_n > robust(s_n, 4))).to_numpy()
    assert expected_neg.sum() >= 5  # the test exercises the rule
    np.testing.assert_array_equal(flags.negative, expected_neg)
    np.testing.assert_array_equal(flags.volume, expected_vol)


def test_wilson_interval_is_statsmodels_elementwise():
    from statsmodels.stats.proportion import proportion_confint

    from asaas.timeline.intervals import wilson_interval

    k = np.array([0, 1, 5, 20, 7])
    n = np.array([10, 3, 5, 100, 0])
    lo, hi = wilson_interval(k, n)
    for i in range(4):
        assert (lo[i], hi[i]) == proportion_confint(k[i], n[i], alpha=1 - 0.95, method="wilson")
        assert (lo[i], hi[i]) == wilson_interval(int(k[i]), int(n[i]))
    assert np.isnan(lo[4]) and np.isnan(hi[4])
    assert wilson_interval(0, 0) == (None, None)


# -- change points -------------------------------------------------------------------------------


def test_a_planted_share_shift_is_found_to_within_days():
    n, _ = _flat(350, n=20)
    rng = np.random.default_rng(11)
    neg = [int(rng.binomial(c, 0.05 if i < 200 else 0.15)) for i, c in enumerate(n)]
    found = _detect({1: (n, neg)}, AlertRule(kinds=("shift",))).alerts
    assert len(found) == 1
    (shift,) = found
    assert abs((shift.start - (D0 + timedelta(days=200))).days) <= 3
    assert shift.end == D0 + timedelta(days=349)
    assert shift.baseline_share == pytest.approx(0.05, abs=0.01)
    assert shift.share == pytest.approx(0.15, abs=0.02)


def test_flat_and_improving_series_raise_no_shift():
    assert _detect({1: _flat(400, seed=3)}, AlertRule(kinds=("shift",))).alerts == []
    n, _ = _flat(350, n=20)
    rng = np.random.default_rng(2)
    better = [int(rng.binomial(c, 0.15 if i < 200 else 0.05)) for i, c in enumerate(n)]
    assert _detect({1: (n, better)}, AlertRule(kinds=("shift",))).alerts == []


def test_change_points_are_the_exact_penalised_optimum():
    """ruptures' PELT with the binomial cost against brute-force optimal partitioning."""
    rng = np.random.default_rng(5)
    n = rng.integers(10, 60, 30).astype(float)
    p = np.where(np.arange(30) < 12, 0.05, np.where(np.arange(30) < 22, 0.25, 0.1))
    k = rng.binomial(n.astype(int), p).astype(float)
    phi, pen = 1.3, 2.0

    def cost(a, b):
        kk, nn = k[a:b].sum(), n[a:b].sum()
        if kk <= 0 or kk >= nn:
            return 0.0
        q = kk / nn
        return -2 * (kk * math.log(q) + (nn - kk) * math.log(1 - q)) / phi

    beta = pen * math.log(30)
    best = [0.0] + [math.inf] * 30
    last = [0] * 31
    for end in range(2, 31):
        for start in [0] + list(range(2, end - 1)):
            if start and start < 2:
                continue
            value = (best[start] + beta if start else 0.0) + cost(start, end)
            if value < best[end]:
                best[end], last[end] = value, start
    cps, end = [], 30
    while last[end]:
        cps.append(last[end])
        end = last[end]
    assert cp.change_points(k, n, pen, phi) == sorted(cps)
    assert len(cps) >= 2  # the planted changes are there


def test_overdispersion_is_about_one_for_binomial_weeks():
    rng = np.random.default_rng(0)
    n = rng.integers(50, 200, 300)
    k = rng.binomial(n, 0.1)
    assert 0.99 <= cp.overdispersion(k, n) < 1.3
    extra = rng.binomial(n, rng.beta(2, 18, 300))  # shares that vary week to week
    assert cp.overdispersion(extra, n) > 2
    assert cp.overdispersion(np.zeros(10), np.ones(10)) == 1.0


# -- on the database: detect, explain, find ------------------------------------------------------


def _bombed_db(db_path, *, labels: bool = True):
    rows = daily_series("100", T0, [20] * 120, [0.05] * 120, seed=1)
    for day in (90, 91):
        for j in range(40):
            rows.append(Review("100", T0 + timedelta(days=day, hours=3, minutes=j), 0,
                               text="paid mods are pure greed, refund"))
    rows += daily_series("200", T0, [10] * 120, [0.05] * 120, seed=2)
    if not labels:
        for r in rows:
            r.label = None
    return write_reviews(db_path, rows, names={"100": "Skyrim", "200": "Firewatch"})


def test_detect_on_the_database_and_filters(db_url):
    store = _bombed_db(db_url)
    found = al.detect(store)
    assert [a.id for a in found.alerts] == ["negative:100:2020-03-31"]
    assert al.detect(store, product="Firewatch").alerts == []
    assert al.detect(store, since="2020-04-02").alerts == []
    assert len(al.detect(store, since="2020-04-01", until="2020-04-01").alerts) == 1
    assert al.detect(store, until="2020-03-30").alerts == []
    assert al.detect(store, dataset="other").alerts == []


def test_alerts_on_a_models_predictions_of_unlabelled_reviews(db_path):
    store = _bombed_db(db_path, labels=False)
    assert al.detect(store).alerts == []  # no labels, nothing to count
    write_predictions(store, "judge", lambda text, label: 0.05 if "greed" in text else 0.9)
    found = al.detect(store, source="judge")
    assert [(a.id, a.source, a.n_negative) for a in found.alerts] == [
        ("negative:100:2020-03-31", "judge v1", 80)]


def test_explain_names_the_words_and_reviews(db_url):
    store = _bombed_db(db_url)
    why = ex.explain(store, "negative:Skyrim:2020-04-01", n_reviews=3, n_terms=5)
    assert why.alert.start == date(2020, 3, 31)
    terms = [row[0] for row in why.terms.rows]
    assert {"paid", "mods", "greed"} <= set(terms)
    assert "refund" not in terms[:3]  # the usual complaint is in the baseline too
    assert len(why.reviews.rows) == 3
    assert all("greed" in row[4] for row in why.reviews.rows)
    assert why.baseline_reviews == 28 * 20
    write_predictions(store, "judge", lambda text, label: 0.01 if "greed" in text else
                      (0.3 if label == 0 else 0.9))
    why = ex.explain(store, "negative:100:2020-03-31", source="judge", n_reviews=50)
    probs = [row[3] for row in why.reviews.rows]
    assert probs == sorted(probs) and probs[0] == 0.01  # most confidently negative first


def test_distinctive_terms_edge_cases():
    assert ex.distinctive_terms([], ["a b"]).rows == []
    assert ex.distinctive_terms(["unique"], ["other"]).rows == []  # no word twice


@pytest.mark.parametrize("alert_id, message", [
    ("negative-100-2020-03-31", "bad alert id"),
    ("spike:100:2020-03-31", "bad alert id"),
    ("negative:100:2020-02-30", "bad alert id"),  # no such day: one line, not a traceback
    ("negative:nope:2020-03-31", "unknown product 'nope'"),
    ("negative:100:2020-01-05", "no negative alert of Skyrim .100. on 2020-01-05"),
])
def test_find_alert_bad_ids(db_path, alert_id, message):
    store = _bombed_db(db_path)
    with pytest.raises(Exception, match=message):
        al.find_alert(store, alert_id)


@pytest.mark.parametrize("change, message", [
    ({"baseline_days": 1}, "--baseline-days must be at least 2"),
    ({"min_history_days": 40}, "--min-history-days must be between"),
    ({"z": 0}, "--z and --volume-z must be positive"),
    ({"min_negative": 0}, "--min-negative and --min-volume"),
    ({"merge_gap_days": -1}, "--merge-gap-days"),
    ({"platform_share": 1.5}, "--platform-share"),
    ({"cp_penalty": 0}, "--cp-penalty"),
    ({"cp_alpha": 1}, "cp_alpha"),
    ({"kinds": ("spike",)}, "unknown alert kind spike"),
    ({"kinds": ()}, "unknown alert kind"),
])
def test_bad_rules(change, message):
    with pytest.raises(AlertError, match=message):
        rule_from_options(**change)


# -- the CLI -------------------------------------------------------------------------------------


def test_cli_alerts_list_and_show(db_url, invoke):
    _bombed_db(db_url)
    bare = ok(invoke("alerts"))
    assert "negative:100:2020-03-31" in bare and "Skyrim" in bare
    assert ok(invoke("alerts", "list")) == bare
    rows = json.loads(ok(invoke("alerts", "list", "Skyrim", "--format", "json", "--explain")))
    (row,) = rows
    ((negatives,),) = q(db_url, "SELECT count(*) FROM reviews WHERE label = 0 AND "
                                 "reviewed_at >= '2020-03-31' AND reviewed_at < '2020-04-02' "
                                 "AND product_id = (SELECT id FROM products "
                                 "WHERE external_id = '100')")
    assert (row["kind"], row["start"], row["n_negative"]) == ("negative", "2020-03-31", negatives)
    assert negatives > 80
    assert "greed" in row["top_terms"] and "greed" in row["example"]
    # The bomb's days raised the volume rule too, but a burst with a negative day is the
    # negative alert's: no volume alert, with or without --kind.
    out = ok(invoke("alerts", "list", "--format", "csv", "--kind", "volume"))
    assert out.strip() == "no alerts (labels; all products)"
    out = ok(invoke("alerts", "list", "--format", "csv", "--kind", "shift"))
    assert out.strip() == "no alerts (labels; all products)"
    assert "no alerts" in ok(invoke("alerts", "list", "--min-negative", "500", "--kind",
                                    "negative"))
    out = ok(invoke("alerts", "show", "negative:100:2020-03-31", "--reviews", "2", "--terms",
                    "4"))
    assert "negative alert from 2020-03-31 to 2020-04-01 (2 days)" in out
    assert "paid" in out and out.count("paid mods are pure greed") == 2
    shown = json.loads(ok(invoke("alerts", "show", "negative:100:2020-03-31", "--format",
                                 "json", "--reviews", "1")))
    assert shown["alert"]["alert_id"] == "negative:100:2020-03-31"
    assert len(shown["reviews"]) == 1 and shown["baseline_reviews"] == 560


def test_cli_alerts_every_rule_option(db_path, invoke):
    _bombed_db(db_path)
    args = ["alerts", "list", "--baseline-days", "21", "--min-history-days", "7", "--z", "3",
            "--min-negative", "5", "--volume-z", "6", "--min-volume", "10", "--merge-gap-days",
            "0", "--platform-share", "0.5", "--cp-penalty", "8", "--since", "2020-03-01",
            "--until", "2020-12-31", "--dataset", "steam", "--source", "labels", "--format",
            "json"]
    rows = json.loads(ok(invoke(*args)))
    # merge gap 0 splits nothing here (the two days are consecutive); the spike is still there.
    assert [r["alert_id"] for r in rows if r["kind"] == "negative"] == ["negative:100:2020-03-31"]


@pytest.mark.parametrize("args, message", [
    (["list", "--z", "-1"], "--z and --volume-z must be positive"),
    (["list", "--baseline-days", "1"], "--baseline-days must be at least 2"),
    (["list", "nope"], "unknown product 'nope'"),
    (["list", "--source", "missing"], "no model named 'missing'"),
    (["list", "--since", "soon"], "bad date 'soon'"),
    (["show", "negative:100"], "bad alert id"),
    (["show", "negative:100:2020-01-02"], "no negative alert"),
])
def test_cli_alerts_bad_input(db_path, invoke, args, message):
    _bombed_db(db_path)
    assert message in err(invoke("alerts", *args))


def test_cli_alerts_rejects_unknown_kind(db_path, invoke):
    _bombed_db(db_path)
    result = invoke("alerts", "list", "--kind", "spike")
    assert result.exit_code == 2 and "spike" in result.output
    result = invoke("alerts", "show", "x", "--reviews", "-1")
    assert result.exit_code == 2


@pytest.mark.parametrize("args", [["alerts", "list"], ["alerts", "show", "negative:1:2020-01-01"],
                                  ["responsiveness"], ["events", "list"],
                                  ["events", "effects"]])
def test_read_commands_never_create_a_database(invoke, tmp_path, args):
    missing = tmp_path / "missing.duckdb"
    out = err(invoke(*args, "--db", str(missing)))
    assert "Error:" in out and not missing.exists()


def test_alerts_by_product_for_pages(db_path):
    store = _bombed_db(db_path)
    grouped = al.alerts_by_product(store)
    (pid,) = grouped
    assert [a.id for a in grouped[pid]] == ["negative:100:2020-03-31"]
    assert al.alerts_by_product(store, [pid + 1]) == {}


def test_cli_alerts_show_takes_the_rule_options(db_path, invoke):
    _bombed_db(db_path)
    out = ok(invoke("alerts", "show", "negative:100:2020-03-31", "--reviews", "1", "--source",
                    "labels", "--dataset", "steam", "--format", "markdown"))
    assert out.startswith("negative:100:2020-03-31: Skyrim, negative alert")
    assert "| term |" in out.replace("  ", " ")
    # With a stricter rule there is none.
    assert "no negative alert" in err(invoke("alerts", "show", "negative:100:2020-03-31",
                                             "--min-negative", "500", "--baseline-days", "28",
                                             "--z", "5", "--volume-z", "8"))


# -- an alert is one thing, whatever kinds were asked for ----------------------------------------

KIND_SETS = [kinds for r in range(1, 4) for kinds in itertools.combinations(KINDS, r)]


def _assert_alerts_are_stable(invoke, *args: str, listing: tuple[str, ...] = ()) -> list[dict]:
    """Every ``--kind`` combination lists exactly the full list's alerts of those kinds (ids,
    days and numbers), and `alerts show ID` prints exactly the alert the list named (``args``:
    options of both, ``listing``: of the list only)."""
    args_list = (*listing, *args)
    full = json.loads(ok(invoke("alerts", "list", *args_list, "--format", "json")))
    assert len(KIND_SETS) == 7
    for kinds in KIND_SETS:
        flags = [word for k in kinds for word in ("--kind", k)]
        out = ok(invoke("alerts", "list", *args_list, *flags, "--format", "json"))
        listed = [] if out.startswith("no alerts") else json.loads(out)
        assert listed == [r for r in full if r["kind"] in kinds], kinds
    for row in full:
        shown = json.loads(ok(invoke("alerts", "show", row["alert_id"], *args, "--format", "json",
                                     "--reviews", "1", "--terms", "1")))
        assert shown["alert"] == row
    return full


def _giveaway_db(db_path):
    """Like Commander Cool 2 in September 2015: an eight-day burst of positive reviews (a key
    giveaway) with one day of many negatives inside it, a positive bomb elsewhere, a shift."""
    rng = np.random.default_rng(4)
    n, neg = [int(v) for v in rng.poisson(10, 300)], [0] * 300
    shares = [0.05 if i < 200 else 0.2 for i in range(300)]
    neg = [int(rng.binomial(c, p)) for c, p in zip(n, shares)]
    for day in range(100, 108):
        n[day] += 60
    n[104] += 40
    neg[104] += 40
    n[60] += 80
    rows = []
    for i, (k, m) in enumerate(zip(neg, n)):
        for j in range(m):
            rows.append(Review("300", T0 + timedelta(days=i, minutes=j), 0 if j < k else 1))
    _bombed_db(db_path)
    return write_reviews(db_path, rows, names={"300": "Giveaway Game"})


def test_an_alert_is_the_same_whatever_kinds_are_asked_for(db_path, invoke):
    _giveaway_db(db_path)
    full = _assert_alerts_are_stable(invoke)
    ids = [r["alert_id"] for r in full]
    # The negative day inside the giveaway is its own one-day alert, not an eight-day one that
    # reads "negative share 9% vs 5%"; the giveaway around it is not a volume alert as well.
    negative = next(r for r in full if r["alert_id"] == "negative:300:2020-04-14")
    assert negative["days"] == 1 and negative["n_negative"] >= 40 and negative["share"] > 0.3
    assert not any(a.startswith("negative:300:") and a != "negative:300:2020-04-14" for a in ids)
    assert not any(r["kind"] == "volume" and r["start"] <= "2020-04-14" <= r["end"]
                   for r in full if r["product"] == "300")
    assert "volume:300:2020-03-01" in ids  # the positive bomb
    assert any(a.startswith("shift:300:") for a in ids)
    assert "negative:100:2020-03-31" in ids
    _assert_alerts_are_stable(invoke, "--dataset", "steam",
                              listing=("Giveaway Game", "--since", "2020-03-01"))


def test_the_docs_alert_ids_on_the_readme_stand_ins(db_path, invoke, tmp_path):
    from tests import readme_data as rd

    steam = rd.write_steam(tmp_path / "steam.parquet")
    ok(invoke("ingest", "--format", "steam", "--source", str(steam), "--split-before",
              "2017-07-01"))
    full = _assert_alerts_are_stable(invoke, "--dataset", "steam")
    assert "negative:558420:2017-10-07" in [r["alert_id"] for r in full]


@pytest.mark.shared_data
def test_the_docs_alert_ids_on_the_real_steam_reviews(db_path, invoke, tmp_path):
    """docs/feedback-over-time.md's ids: Commander Cool 2's and Stories Untold's one-day
    negative alerts, listed and shown alike with and without --kind."""
    from tests.steam_subset import write_subset

    source = write_subset(tmp_path / "steam.parquet")
    ok(invoke("ingest", "--format", "steam", "--source", str(source), "--split-before",
              "2017-07-01"))
    full = _assert_alerts_are_stable(invoke, "--dataset", "steam")
    rows = {r["alert_id"]: r for r in full}
    for alert_id, n_reviews, n_negative in (("negative:356070:2015-09-07", 358, 34),
                                            ("negative:558420:2017-10-07", 88, 14)):
        row = rows[alert_id]
        assert (row["days"], row["n_reviews"], row["n_negative"]) == (1, n_reviews, n_negative)
        out = ok(invoke("alerts", "show", alert_id, "--reviews", "1"))
        assert out.startswith(f"{alert_id}: ") and "(1 day)" in out
    assert "Error: no negative alert" in err(invoke("alerts", "show",
                                                   "negative:558420:2017-10-09"))


def test_unknown_alert_id_suggests_a_real_command(db_path, invoke):
    _bombed_db(db_path)
    out = err(invoke("alerts", "show", "negative:Skyrim:2020-01-05"))
    assert "`asaas alerts list Skyrim --kind negative` lists them" in out
    ok(invoke("alerts", "list", "Skyrim", "--kind", "negative"))  # the suggestion runs
