"""`asaas timeline`: finding products and models, every output format, the bad inputs, and the
HTML page rendered in real headless Chromium."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import numpy as np
import pytest

from asaas.store import open_store
from tests import chromium
from tests import timeline_data as td
from tests.helpers import err, ok, q


@pytest.fixture
def seeded(db_path):
    store = open_store(str(db_path))
    data = td.seed_store(store)
    with store.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (id, product_id, occurred_at, kind, title, source, created_at) "
            "VALUES (1, 1, '2017-03-06 12:00:00', 'patch', 'Patch 1.2 breaks saves', 'manual', "
            "'2018-01-01'), (2, 2, '2017-05-02', 'release', 'Version 2.0', 'manual', "
            "'2018-01-01')")
    return data


def _json(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_formats_and_numbers_from_the_view(invoke, seeded, db_path):
    rows = _json(invoke("timeline", "Pit Pals", "--freq", "month", "--format", "json"))
    assert len(rows) == 12  # 6 months x the two scored versions (the third never scored)
    assert {r["model"] for r in rows} == {"biased v1", "coinflip v1"}
    assert [r["period_start"] for r in rows[::2]] == [f"2017-0{m}-01" for m in range(1, 7)]
    expected = q(db_path, "SELECT period_start, model_label, corrected_negative_share, "
                          "predicted_ci_high, n_reviews FROM timeline WHERE product_id = 1 "
                          "AND freq = 'month' AND language = 'all' AND dataset = 'steam' "
                          "ORDER BY period_start, model_label")
    for r, (start, label, corrected, ci_high, n) in zip(rows, expected):
        assert (r["period_start"], r["model"], r["n_reviews"]) == (start.isoformat(), label, n)
        assert r["corrected_negative_share"] == corrected
        assert r["predicted_ci_high"] == ci_high
    table = ok(invoke("timeline", "1001", "--freq", "month"))
    header = table.splitlines()[0].split()
    assert header[:4] == ["product", "period_start", "model", "n_reviews"]
    assert "observed_ci_low" not in header  # compact unless --full
    assert "observed_ci_low" in ok(invoke("timeline", "1001", "--freq", "month", "--full"))
    md = ok(invoke("timeline", "pit", "--freq", "month", "--format", "markdown",
                   "--model", "biased"))
    assert md.startswith("| product |") and "coinflip" not in md
    assert len(md.strip().splitlines()) == 2 + 6
    parsed = list(csv.DictReader(io.StringIO(
        invoke("timeline", "pit", "--freq", "week", "--format", "csv").stdout)))
    assert {datetime.fromisoformat(r["period_start"]).weekday() for r in parsed} == {0}
    assert "corrected_ci_low" in parsed[0] and "mean_prob_positive" in parsed[0]


def test_product_lookup(invoke, seeded):
    for ref in ("1001", "Pit Pals", "pit pals", "PIT", " pit pals "):
        rows = _json(invoke("timeline", ref, "--freq", "month", "--format", "json"))
        assert {r["product"] for r in rows} == {"1001"}, ref
    out = err(invoke("timeline", "Pit Palz"))
    assert "unknown product 'Pit Palz'" in out and "Pit Pals (1001)" in out
    out = err(invoke("timeline", "e", "--dataset", "steam"))  # Rogue Streets, Empty Game
    assert "matches 2 products: Rogue Streets (1002); Empty Game (1003)" in out
    assert "give the product id" in out
    assert "unknown product" in err(invoke("timeline", "9999"))
    assert "empty product" in err(invoke("timeline", "  "))


def test_dataset_choice(invoke, seeded):
    out = err(invoke("timeline", "Rogue Streets"))  # reviews in steam and bombs
    assert "several datasets (bombs, steam)" in out and "--dataset" in out
    rows = _json(invoke("timeline", "Rogue Streets", "--dataset", "bombs", "--format", "json",
                        "--freq", "day"))
    assert sum(r["n_reviews"] for r in rows) == 2 * 30
    assert "no reviews in dataset 'nope'" in err(invoke("timeline", "pit", "--dataset", "nope"))


def test_all_products(invoke, seeded):
    rows = _json(invoke("timeline", "all", "--dataset", "steam", "--freq", "month",
                        "--model", "biased:1", "--format", "json"))
    assert {r["product"] for r in rows} == {"1001", "1002"} and len(rows) == 12


def test_bad_inputs(invoke, seeded):
    result = invoke("timeline", "pit", "--freq", "year")
    assert result.exit_code == 2 and "'year' is not one of 'day', 'week', 'month'" in \
        result.output
    assert "unknown model nope (models: biased, coinflip, unscored)" in err(
        invoke("timeline", "pit", "--model", "nope"))
    out = err(invoke("timeline", "pit", "--model", "unscored"))
    assert "unscored v1 has no predictions" in out and "asaas score --model unscored" in out
    assert "no version 7" in err(invoke("timeline", "pit", "--model", "biased:7"))
    assert "NAME:VERSION" in err(invoke("timeline", "pit", "--model", "biased:x"))
    assert "is after --until" in err(invoke("timeline", "pit", "--since", "2017-05-01",
                                            "--until", "2017-02-01"))
    result = invoke("timeline", "pit", "--since", "2017/05/01")
    assert result.exit_code == 2 and "--since" in result.output
    assert "language 'klingon' (languages: english, schinese)" in err(
        invoke("timeline", "pit", "--language", "klingon"))
    out = err(invoke("timeline", "Empty Game"))
    assert "Empty Game (1003) has no reviews yet" in out


def test_empty_window(invoke, seeded):
    result = invoke("timeline", "pit", "--since", "2019-01-01")
    out = ok(result)
    assert out.strip() == ("no steam reviews of Pit Pals (1001) from 2019-01-01 "
                           "(its reviews run from 2017-01-01 to 2017-06-30)")


def test_window_and_language(invoke, seeded, db_path):
    rows = _json(invoke("timeline", "pit", "--freq", "week", "--since", "2017-02-01",
                        "--until", "2017-02-28", "--model", "biased", "--format", "json"))
    assert [r["period_start"] for r in rows] == ["2017-01-30", "2017-02-06", "2017-02-13",
                                                 "2017-02-20", "2017-02-27"]
    rows = _json(invoke("timeline", "pit", "--freq", "month", "--language", "schinese",
                        "--model", "biased", "--format", "json"))
    n = q(db_path, "SELECT sum(n_reviews) FROM product_timeline WHERE product_id = 1 AND "
                   "language = 'schinese' AND freq = 'month' AND dataset = 'steam'")[0][0]
    assert sum(r["n_reviews"] for r in rows) == n < len(seeded.review_id) // 2


def test_labels_only_without_scored_models(invoke, db_path):
    data = td.generate(seed=2)
    data.pred.clear()
    td.seed_store(open_store(str(db_path)), data)
    result = invoke("timeline", "pit", "--freq", "month", "--format", "json")
    rows = _json(result)
    assert len(rows) == 6 and "model" not in rows[0]
    january = (data.product_id == 1) & (data.reviewed_at < np.datetime64("2017-02-01"))
    assert rows[0]["n_reviews"] == int(january.sum())
    assert "no model has scored steam reviews" in result.stderr


def test_no_products_yet(invoke, db_path):
    assert err(invoke("timeline", "anything"))  # no database: an error, and none is created
    assert not db_path.exists()
    ok(invoke("db", "upgrade"))
    assert "no products yet" in err(invoke("timeline", "anything"))


def test_html_page_renders_in_chromium(invoke, seeded, tmp_path, db_path):
    from asaas.timeline.alerts import detect

    target = tmp_path / "timeline.html"
    out = invoke("timeline", "all", "--dataset", "steam", "--html", str(target))
    assert out.exit_code == 0 and "wrote" in out.stderr
    page = target.read_text(encoding="utf-8")
    assert page.count('<svg class="plot') == 4  # share + volume for each of 2 products
    assert page.count('<g class="event">') == 2  # each event named once, above its share plot
    assert 'id="picker"' in page and "Patch 1.2 breaks saves" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # the alerts `asaas alerts list --dataset steam` finds (product 1's bad March among them),
    # each marked once in its kind's lane
    alerts = detect(open_store(str(db_path)), dataset="steam").alerts
    assert any(a.product_id == 1 and a.start.month == 3 for a in alerts)
    assert page.count('class="alert"') == len(alerts)
    assert chromium.title(target) == \
        f"asaas timeline: 4 plots rendered, 2 events, {len(alerts)} alerts"


def test_html_page_draws_given_events_and_alerts(db_path, tmp_path):
    from asaas.timeline.page import render_timeline_html
    from asaas.timeline.marks import AlertSpan, EventMark
    from asaas.timeline.series import read_series, timeline

    store = open_store(str(db_path))
    td.seed_store(store)
    series = timeline(store, "pit", freq="week", models=["biased"])
    observed = {1: read_series(store, series.products, dataset="steam", freq="week").dicts()}
    events = [EventMark(1, datetime(2017, 3, 1), "patch", "Save <bug> & fix"),
              EventMark(1, datetime(2019, 1, 1), "patch", "outside the window"),
              EventMark(2, datetime(2017, 3, 1), "patch", "another product")]
    alerts = [AlertSpan(1, datetime(2017, 2, 27), datetime(2017, 4, 2), "negative spike",
                        "spike"),
              AlertSpan(1, datetime(2016, 1, 1), datetime(2016, 2, 1), "before the series")]
    page = render_timeline_html(series, observed, events, alerts)
    assert "Save &lt;bug&gt; &amp; fix" in page and "another product" not in page
    assert page.count('class="alert"') == 1  # the spike in its lane; the 2016 one skipped
    assert 'id="picker"' not in page  # one product: no picker
    target = tmp_path / "page.html"
    target.write_text(page, encoding="utf-8")
    assert chromium.title(target) == "asaas timeline: 2 plots rendered, 1 events, 1 alerts"


def test_html_errors(invoke, seeded, tmp_path):
    out = err(invoke("timeline", "pit", "--html", str(tmp_path / "missing" / "t.html")))
    assert "does not exist" in out
    out = invoke("timeline", "pit", "--since", "2019-01-01", "--html", str(tmp_path / "t.html"))
    assert "nothing to draw" in err(out) and not (tmp_path / "t.html").exists()
