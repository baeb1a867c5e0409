"""Responsiveness (asaas/timeline/responsiveness.py): developer responses per product (the view
against pandas), recovery after alerts and negative events (known answers), and the ranking;
library and CLI."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from asaas.timeline import responsiveness as rs
from asaas.timeline.events import add_event
from tests.events_alerts_data import Review, daily_series, write_predictions, write_reviews
from tests.helpers import err, ok, q

T0 = datetime(2020, 1, 1)
D0 = date(2020, 1, 1)


def _responses_db(db_path):
    """Three products: A answers half its negatives within hours, B one in ten after days, C
    none; a few positive reviews are answered too."""
    rows = []
    for i in range(40):
        negative = i % 2 == 0
        answered = negative and i % 4 == 0
        rows.append(Review("A", T0 + timedelta(days=i), 0 if negative else 1,
                           responded_at=T0 + timedelta(days=i, hours=2 + i % 5) if answered
                           else None))
    for i in range(40):
        negative = i < 20
        answered = (negative and i in (3, 7)) or i == 30
        rows.append(Review("B", T0 + timedelta(days=i), 0 if negative else 1,
                           responded_at=T0 + timedelta(days=i + 3) if answered else None))
    rows += [Review("C", T0 + timedelta(days=i), i % 3 and 1 or 0) for i in range(30)]
    rows += [Review("D", T0 + timedelta(days=i), None) for i in range(5)]  # unlabelled
    return write_reviews(db_path, rows, names={"A": "Alpha", "B": "Beta", "C": "Gamma",
                                               "D": "Delta"})


def test_response_view_matches_pandas(db_url):
    store = _responses_db(db_url)
    mv = write_predictions(store, "judge", lambda text, label: 0.2 if label == 0 else 0.7)
    frame = pd.DataFrame(q(db_url, "SELECT p.external_id, r.label, r.reviewed_at, "
                                    "r.developer_responded_at FROM reviews r "
                                    "JOIN products p ON p.id = r.product_id"),
                         columns=["product", "label", "at", "responded"])
    frame["hours"] = (frame["responded"] - frame["at"]).dt.total_seconds() / 3600
    got = {r[0]: r[1:] for r in q(db_url, (
        "SELECT p.external_id, v.n_reviews, v.n_negative, v.n_responded, v.n_negative_responded, "
        "v.median_negative_response_hours, v.median_response_hours FROM product_responses v "
        "JOIN products p ON p.id = v.product_id WHERE v.source = 'labels'"))}
    for product, rows in frame.dropna(subset=["label"]).groupby("product"):
        neg = rows[rows["label"] == 0]
        expected = (len(rows), len(neg), int(rows["responded"].notna().sum()),
                    int(neg["responded"].notna().sum()), neg["hours"].median(),
                    rows["hours"].median())
        actual = got[product]
        assert actual[:4] == expected[:4]
        for a, e in zip(actual[4:], expected[4:]):
            assert (a is None and np.isnan(e)) or a == pytest.approx(e)
    assert "D" not in got  # unlabelled reviews have no label-based negatives
    # With the model's labels every product counts, the unlabelled one too.
    by_model = dict(q(db_url, "SELECT p.external_id, v.n_reviews FROM product_responses v "
                               f"JOIN products p ON p.id = v.product_id "
                               f"WHERE v.model_version_id = {mv}"))
    assert by_model == {"A": 40, "B": 40, "C": 30, "D": 5}


def test_ranking(db_path):
    store = _responses_db(db_path)
    table = rs.ranking(store)
    rows = [dict(zip(table.columns, r)) for r in table.rows]
    assert [(r["rank"], r["product"]) for r in rows] == [(1, "A"), (2, "B"), (3, "C")]
    a, b, c = rows
    assert (a["n_negative"], a["negative_responded"], a["responded_share"]) == (20, 10, 0.5)
    assert a["median_response_hours"] == pytest.approx(np.median([2 + i % 5 for i in
                                                                  range(0, 40, 4)]))
    assert (b["negative_responded"], b["median_response_hours"]) == (2, 72.0)
    assert c["responded_share"] == 0.0 and c["median_response_hours"] is None
    assert rows[0]["responded_ci_low"] < 0.5 < rows[0]["responded_ci_high"]
    assert [r[1] for r in rs.ranking(store, "Beta").rows] == ["B"]


def test_ranking_needs_a_dataset_when_a_product_spans_several(db_path):
    write_reviews(db_path, [Review("A", T0, 0)], dataset="one")
    store = write_reviews(db_path, [Review("A", T0, 1)], dataset="two")
    with pytest.raises(Exception, match="several datasets .one, two.; pick one with --dataset"):
        rs.ranking(store)
    assert [r[3] for r in rs.ranking(store, dataset="two").rows] == [1]


# -- recovery ------------------------------------------------------------------------------------


def _days(neg_per_day: list[int], n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"n": n, "neg": neg_per_day},
                        index=pd.date_range("2020-01-01", periods=len(neg_per_day), name="day"))


def test_recovery_known_answer_matches_pandas():
    neg = [1] * 30 + [15, 15] + [6] * 7 + [1] * 40
    days = _days(neg)
    start, end = D0 + timedelta(days=30), D0 + timedelta(days=31)
    share, high, on, took, status = rs.recovery(days, start, end, (28 * 20, 28))
    assert share == 0.05 and status == "recovered"
    from statsmodels.stats.proportion import proportion_confint

    assert high == pytest.approx(proportion_confint(28, 560, method="wilson")[1])
    # Independently: the first 7-day window starting after the alert whose share <= high.
    window = days["neg"].rolling(7).sum() / days["n"].rolling(7).sum()
    after = window[window.index >= pd.Timestamp(end) + pd.Timedelta(days=7)]
    first = after[after <= high].index[0]
    assert on == first.date() == D0 + timedelta(days=45)
    assert took == (first.date() - start).days + 1 == 16


def test_not_recovered_data_ends_and_no_baseline():
    days = _days([1] * 30 + [10] * 300)
    start = D0 + timedelta(days=30)
    assert rs.recovery(days, start, start, (560, 28))[4] == "not recovered"
    short = _days([1] * 30 + [10] * 20)
    assert rs.recovery(short, start, start, (560, 28))[4] == "not recovered (data ends)"
    assert rs.recovery(days, start, start, (0, 0))[4] == "no baseline"
    quiet = _days([0] * 40 + [0] * 40, n=1)  # windows of 7 reviews only... with 1 a day
    assert rs.recovery(quiet, start, start, (28, 0), min_window_reviews=8)[4].startswith(
        "not recovered")


def test_recoveries_after_alerts_and_negative_events(db_url):
    n = [20] * 200
    share = [0.05] * 200
    rows = daily_series("100", T0, n, share, exact=True)
    for day in (60, 61):  # a two-day bomb, back to normal right after
        rows += [Review("100", T0 + timedelta(days=day, hours=1, minutes=j), 0)
                 for j in range(40)]
    rows += daily_series("200", T0, [20] * 200, [0.05] * 100 + [0.3] * 100, exact=True)
    store = write_reviews(db_url, rows, names={"100": "Bombed", "200": "Broken"})
    add_event(store, "200", T0 + timedelta(days=100), "patch", "The patch that broke it")
    add_event(store, "100", T0 + timedelta(days=150), "patch", "A harmless patch")
    items = rs.recoveries(store)
    got = [(r.product, r.incident, r.kind, r.status, r.recovery_days) for r in items]
    assert ("100", "negative:100:2020-03-01", "negative", "recovered", 9) in got
    broken = [g for g in got if g[0] == "200"]
    assert ("200", "event 1", "patch", "not recovered (data ends)", None) in broken
    assert any(g[2] == "shift" and g[3].startswith("not recovered") for g in broken)
    assert not any(g[1] == "event 2" for g in got)  # not a negative event
    table = rs.ranking(store, items=items)
    row = dict(zip(table.columns, [r for r in table.rows if r[1] == "100"][0]))
    assert (row["incidents"], row["recovered"], row["median_recovery_days"]) == (1, 1, 9.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"horizon_days": 3}, "--horizon-days must be at least 7"),
    ({"min_window_reviews": 0}, "--min-window-reviews"),
    ({"window_days": 0}, "--window-days"),
    ({"source": "nomodel"}, "no model named"),
])
def test_recoveries_bad_options(db_path, kwargs, message):
    store = _responses_db(db_path)
    with pytest.raises(Exception, match=message):
        rs.recoveries(store, **kwargs)


# -- the CLI -------------------------------------------------------------------------------------


def test_cli_responsiveness(db_url, invoke):
    store = _responses_db(db_url)
    out = ok(invoke("responsiveness"))
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["rank", "product", "name"]
    assert lines[2].split()[:3] == ["1", "A", "Alpha"]
    rows = json.loads(ok(invoke("responsiveness", "Beta", "--format", "json", "--dataset",
                                "steam", "--window-days", "14", "--horizon-days", "60",
                                "--min-window-reviews", "3", "--z", "4", "--min-negative",
                                "3", "--baseline-days", "14", "--min-history-days", "7")))
    assert [(r["rank"], r["product"], r["negative_responded"]) for r in rows] == [(1, "B", 2)]
    assert "no alerts or negative events" in ok(invoke("responsiveness", "--recoveries"))
    write_predictions(store, "judge", lambda text, label: 0.2 if label == 0 else 0.7)
    rows = json.loads(ok(invoke("responsiveness", "--source", "judge", "--format", "json")))
    assert {r["product"] for r in rows} == {"A", "B", "C", "D"}


def test_cli_responsiveness_recoveries(db_path, invoke):
    rows = daily_series("100", T0, [20] * 120, [0.05] * 120, exact=True)
    rows += [Review("100", T0 + timedelta(days=80, minutes=j), 0) for j in range(60)]
    write_reviews(db_path, rows)
    out = ok(invoke("responsiveness", "--recoveries", "--format", "csv"))
    assert out.splitlines()[0] == ",".join(rs.RECOVERY_COLUMNS)
    assert ",negative:100:2020-03-21,negative,2020-03-21,2020-03-21," in out
    assert out.splitlines()[1].endswith(",recovered")


@pytest.mark.parametrize("args, message", [
    (["nope"], "unknown product 'nope'"),
    (["--source", "missing"], "no model named 'missing'"),
    (["--z", "0"], "--z and --volume-z must be positive"),
])
def test_cli_responsiveness_bad_input(db_path, invoke, args, message):
    _responses_db(db_path)
    assert message in err(invoke("responsiveness", *args))


def test_cli_responsiveness_rejects_bad_numbers(db_path, invoke):
    _responses_db(db_path)
    for args in (["--horizon-days", "3"], ["--min-window-reviews", "0"], ["--window-days", "0"]):
        result = invoke("responsiveness", *args)
        assert result.exit_code == 2 and "Traceback" not in result.output


def test_cli_responsiveness_without_products(invoke, db_path):
    from asaas.store import open_store

    open_store(str(db_path))
    assert "no reviews with products yet" in ok(invoke("responsiveness"))


def test_no_answer_at_all_has_a_lower_bound_of_zero(db_path, invoke):
    """0 of 7 negatives answered: the interval starts at exactly 0, printed 0.0000 (it was
    the rounding noise of the formula, 1.7e-18 or 2.8e-17, printed as such)."""
    write_reviews(db_path, [Review("E", T0 + timedelta(days=i), 0) for i in range(7)]
                  + [Review("E", T0 + timedelta(days=i), 1) for i in range(20)])
    (row,) = json.loads(ok(invoke("responsiveness", "--format", "json")))
    assert (row["negative_responded"], row["responded_ci_low"]) == (0, 0.0)
    line = ok(invoke("responsiveness")).splitlines()[2]
    assert "e-1" not in line and " 0.0000 " in line
    from asaas.timeline.intervals import wilson_interval

    assert [wilson_interval(0, n)[0] for n in range(1, 40)] == [0.0] * 39
    assert [wilson_interval(n, n)[1] for n in range(1, 40)] == [1.0] * 39
