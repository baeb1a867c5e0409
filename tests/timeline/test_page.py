"""The timeline page (`asaas timeline --html`), drawn in headless Chromium: the labels' share
first (a line that breaks where periods have no reviews), one model at a time, alerts at their
exact days by kind, events named above the plot, volume on an axis that keeps ordinary periods
readable, the page's full width, and a period length that suits the product.

The screenshots these tests take land in ASAAS_SCREENSHOTS when it is set (see tests/chromium.py):
``ASAAS_SCREENSHOTS=/tmp/shots .venv/bin/python -m pytest tests/timeline/test_page.py`` draws the
planted bomb, the docs' stand-ins and, with the shared data, Niche, Commander Cool 2 and Stories
Untold from the real Steam reviews.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from asaas.charts import days
from asaas.timeline import page as tp
from asaas.timeline.marks import AlertSpan, EventMark
from asaas.timeline.series import choose_freq, period_counts
from tests import chromium
from tests.events_alerts_data import Review, daily_series, write_predictions, write_reviews
from tests.helpers import ok

T0 = datetime(2020, 1, 1)


def _bombed(db_path):
    """A game with 20 reviews a day for 240 days: a launch-week burst of praise on day 40,
    an event on day 100, a one-day review bomb on day 120 (the volume bar of its week is five
    times the usual), and a lasting rise of the negative share from day 170; a model scored."""
    n = [20] * 240
    share = [0.05 if i < 170 else 0.2 for i in range(240)]
    rows = daily_series("700", T0, n, share, seed=3)
    rows += [Review("700", T0 + timedelta(days=40, minutes=j), 1, "great launch") for j in
             range(150)]
    rows += [Review("700", T0 + timedelta(days=120, hours=2, minutes=j), 0,
                    "paid mods greed refund") for j in range(600)]
    store = write_reviews(db_path, rows, names={"700": "Bombed Game"})
    with store.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (id, product_id, occurred_at, kind, title, source, created_at) "
            "SELECT 1, id, TIMESTAMP '2020-04-10 12:00:00', 'patch', 'Paid mods patch', "
            "'manual', TIMESTAMP '2020-05-01' FROM products WHERE external_id = '700'")
    write_predictions(store, "judge", lambda text, label: 0.1 if label == 0 else 0.8)
    return store


#: Reads the drawn page: how wide the charts are, what each lane holds, the legend.
PROBE = """(function () {
  var svgs = document.querySelectorAll('svg.plot');
  var share = svgs[0];
  function box(el) { var b = el.getBoundingClientRect(); return [b.left, b.width]; }
  function own(t) {  // a text element's own words, not its tooltip's
    return Array.prototype.filter.call(t.childNodes, function (n) { return n.nodeType === 3; })
      .map(function (n) { return n.textContent; }).join(''); }
  function texts(svg) { return Array.prototype.map.call(svg.querySelectorAll('text'), own); }
  return {
    window: window.innerWidth, page: document.documentElement.scrollWidth,
    chart: share.getBoundingClientRect().width,
    alerts: Array.prototype.map.call(share.querySelectorAll('rect.alert'), function (r) {
      return {kind: r.dataset.kind, left: box(r)[0], width: box(r)[1],
              tip: r.querySelector('title').textContent}; }),
    events: Array.prototype.map.call(share.querySelectorAll('.event'), function (e) {
      return e.querySelector('title').textContent; }),
    labels: texts(share), volume: texts(svgs[1]),
    models: Array.prototype.filter.call(share.querySelectorAll('g.model'), function (g) {
      return getComputedStyle(g).display !== 'none'; }).length,
    key: document.querySelector('.key').textContent,
    title: document.title
  };
})()"""


def test_the_planted_bomb_page(invoke, db_path, tmp_path):
    _bombed(db_path)
    target = tmp_path / "bombed.html"
    out = invoke("timeline", "Bombed Game", "--html", str(target))
    assert out.exit_code == 0, out.output
    # 20 reviews a day is under 25: a week is the shortest period that holds enough.
    assert "per week, chosen for volume" in out.stderr
    title, seen = chromium.load(target, PROBE)
    assert title == "asaas timeline: 2 plots rendered, 1 events, 3 alerts"
    # The charts use the page's width (at 1400 px and at 900 px, without a sideways scroll).
    assert seen["chart"] > 0.9 * seen["window"] and seen["page"] <= seen["window"]
    _, narrow = chromium.load(target, PROBE, width=900)
    assert narrow["page"] <= narrow["window"] and narrow["chart"] > 0.9 * narrow["window"]
    # Each alert once, in its kind's lane, at least 3 pixels wide, at its exact day.
    kinds = sorted(a["kind"] for a in seen["alerts"])
    assert kinds == ["negative", "shift", "volume"]
    bomb = next(a for a in seen["alerts"] if a["kind"] == "negative")
    assert bomb["width"] >= 3 and "2020-04-30 (1 day)" in bomb["tip"]
    assert "negative:700:2020-04-30" in bomb["tip"]
    assert {"negative", "volume", "shift", "events"} <= set(seen["labels"])
    assert "Paid mods patch" in seen["labels"]  # the event's title, in its lane
    assert seen["events"] == ["2020-04-10 patch: Paid mods patch"]
    # One model at a time, picked under the chart; the kinds are told apart in the key.
    assert seen["models"] == 1
    assert "negative: a day of unusually many negative reviews" in seen["key"]
    assert "shift: the negative share rose and stayed" in seen["key"]
    chromium.screenshot(target, "timeline-planted-bomb")


def test_the_model_picker_shows_one_model_or_none(db_path, tmp_path):
    _bombed(db_path)
    store = write_reviews(db_path, [])
    write_predictions(store, "second", lambda text, label: 0.3)
    target = tmp_path / "two.html"
    from asaas.timeline.page import write_timeline_html
    from asaas.timeline.series import timeline

    write_timeline_html(store, target, timeline(store, "Bombed Game", freq="week"))
    pick = ("(function (value) { var r = document.querySelector("
            "'.product input[value=\"' + value + '\"]'); r.click(); "
            "return Array.prototype.filter.call(document.querySelectorAll('svg g.model'), "
            "function (g) { return getComputedStyle(g).display !== 'none'; })"
            ".map(function (g) { return g.getAttribute('class'); }); })")
    assert chromium.load(target, pick + "('none')")[1] == []
    assert chromium.load(target, pick + "('1')")[1] == ["model model-1"]
    assert chromium.load(target, pick + "('0')")[1] == ["model model-0"]


def test_the_line_breaks_where_periods_have_no_reviews():
    axis = tp.Axis("week", [date(2020, 1, 6) + timedelta(weeks=k) for k in range(10)])
    rows = [{"period_start": date(2020, 1, 6) + timedelta(weeks=k), "n_reviews": 30,
             "n_labelled": 30, "observed_negative_share": 0.1, "observed_ci_low": 0.05,
             "observed_ci_high": 0.2} for k in (0, 1, 2, 7, 8, 9)]
    rows.append({**rows[0], "period_start": date(2020, 1, 6) + timedelta(weeks=5),
                 "n_labelled": 2, "observed_negative_share": 0.5})
    chart = tp.share_chart("g", axis, sorted(rows, key=lambda r: r["period_start"]), {})
    lines = [s for s in chart.shapes if s.tag == "polyline" and "series" in
             str(s.attrs.get("class"))]
    assert len(lines) == 2  # weeks 0-2 and 7-9; nothing joins them across the gap
    assert all(len(s.attrs["points"].split()) == 3 for s in lines)
    sparse = [s for s in chart.shapes if s.attrs.get("class") == "dot sparse"]
    assert len(sparse) == 1  # the 2-review week: a hollow dot, no line through it


def test_alerts_are_drawn_at_their_exact_days():
    axis = tp.Axis("month", [date(2017, m, 1) for m in range(1, 13)])
    rows = [{"period_start": s, "n_reviews": 60, "n_labelled": 60,
             "observed_negative_share": 0.1, "observed_ci_low": 0.05, "observed_ci_high": 0.2}
            for s in axis.starts]
    bomb = AlertSpan(1, datetime(2017, 10, 7), datetime(2017, 10, 8), "88 reviews", "negative",
                     "negative:1:2017-10-07", 0.16, 0.08)
    shift = AlertSpan(1, datetime(2017, 3, 1), datetime(2018, 1, 1), "x", "shift",
                      "shift:1:2017-03-01", 0.2, 0.1)
    chart = tp.share_chart("g", axis, rows, {}, [EventMark(1, datetime(2017, 5, 5), "patch",
                                                           "a patch")], [bomb, shift])
    boxes = {s.attrs["data-kind"]: s for s in chart.shapes if s.attrs.get("class") == "alert"}
    left, right = tp.MARGIN["left"], tp.WIDTH - tp.MARGIN["right"]
    lo, hi = days(date(2017, 1, 1)), days(date(2018, 1, 1))
    x = left + (days(date(2017, 10, 7)) - lo) / (hi - lo) * (right - left)
    assert float(boxes["negative"].attrs["x"]) == pytest.approx(x, abs=0.05)
    assert float(boxes["negative"].attrs["width"]) == 3  # a day is 3 pixels at least
    assert float(boxes["negative"].attrs["y"]) < float(boxes["shift"].attrs["y"])  # own lanes
    # The shift is a dashed line at its new level, not a shading of ten months.
    level = next(s for s in chart.shapes if s.attrs.get("class") == "alert-level")
    assert level.attrs["stroke-dasharray"] and not any(
        s.attrs.get("class") == "alert-days" and s.attrs.get("fill") == tp.KINDS["shift"][0]
        for s in chart.shapes)


def test_volume_axis_keeps_ordinary_periods_readable():
    assert tp.volume_cut([10, 12, 9, 11] * 10) is None  # nothing out of the ordinary
    counts = [3, 5, 4, 6, 2, 524, 7, 5, 4, 3]
    cut = tp.volume_cut(counts)
    assert 10 <= cut <= 20  # about twice the ordinary week, a round number
    axis = tp.Axis("week", [date(2015, 8, 3) + timedelta(weeks=k) for k in range(10)])
    chart, note = tp.volume_chart("g", axis, [{"period_start": s, "n_reviews": n}
                                              for s, n in zip(axis.starts, counts)])
    labels = [s.text for s in chart.shapes if s.tag == "text"]
    assert "524" in labels and any(f"axis cut at {cut:,.0f}" in t for t in labels)
    assert "cut at" in note and "1 taller week is drawn darker" in note


def test_period_length_follows_the_volume():
    start = date(2020, 1, 1)

    def per_day(n_per_day: float, span: int = 120) -> dict:
        return {start + timedelta(days=i): round(n_per_day * (i + 1)) - round(n_per_day * i)
                for i in range(span) if round(n_per_day * (i + 1)) - round(n_per_day * i)}

    assert choose_freq(per_day(40))[0] == "day"
    assert choose_freq(per_day(10))[0] == "week"  # 70 a week
    assert choose_freq(per_day(10 / 7))[0] == "month"  # 10 a week is noise weekly
    assert choose_freq(per_day(0.1))[0] == "month"  # never enough: the longest
    assert period_counts({date(2020, 1, 1): 3, date(2020, 3, 15): 2}, "month") == [3, 0, 2]


def test_a_review_dated_1970_draws_a_page(db_path, invoke, tmp_path):
    """Issue 18, item 9: the month ticks ran out of steps over decades (StopIteration)."""
    rows = daily_series("800", T0, [5] * 30, [0.1] * 30, seed=1)
    rows.append(Review("800", datetime(1970, 1, 1, 0, 0, 1), 0, "epoch"))
    write_reviews(db_path, rows, names={"800": "Old Game"})
    target = tmp_path / "old.html"
    out = invoke("timeline", "Old Game", "--freq", "month", "--html", str(target))
    assert out.exit_code == 0 and "Traceback" not in out.output, out.output
    page = target.read_text(encoding="utf-8")
    assert ">1970<" in page and ">2020<" in page  # decades on the axis
    assert chromium.title(target) == "asaas timeline: 2 plots rendered, 0 events, 0 alerts"


def test_the_docs_stand_ins(invoke, db_path, tmp_path):
    """Niche and Stories Untold as tests/readme_data.py stands them in: the page the docs'
    commands draw."""
    from tests import readme_data as rd

    steam = rd.write_steam(tmp_path / "steam.parquet")
    ok(invoke("ingest", "--format", "steam", "--source", str(steam), "--split-before",
              "2017-07-01"))
    ok(invoke("events", "derive", "--dataset", "steam"))
    target = tmp_path / "stand-ins.html"
    ok(invoke("timeline", "all", "--dataset", "steam", "--html", str(target)))
    title = chromium.title(target)
    assert re.fullmatch(r"asaas timeline: 8 plots rendered, \d+ events, \d+ alerts", title)
    assert "negative:558420:2017-10-07" in target.read_text(encoding="utf-8")
    chromium.screenshot(target, "timeline-docs-stand-ins")


@pytest.mark.shared_data
@pytest.mark.parametrize("product", ["Niche", "Commander Cool 2", "Stories Untold"])
def test_the_real_steam_products(invoke, db_path, tmp_path, product):
    """The three products issue 21 looked at, from the real reviews (shared data)."""
    from tests.steam_subset import write_subset

    source = write_subset(tmp_path / "steam.parquet")
    ok(invoke("ingest", "--format", "steam", "--source", str(source), "--split-before",
              "2017-07-01"))
    ok(invoke("events", "derive", "--dataset", "steam"))
    target = tmp_path / "page.html"
    out = invoke("timeline", product, "--html", str(target))
    assert out.exit_code == 0, out.output
    assert "per month, chosen for volume" in out.stderr  # 0-20 reviews a week
    title, seen = chromium.load(target, PROBE)
    assert title.startswith("asaas timeline: 2 plots rendered")
    assert seen["page"] <= seen["window"] and seen["chart"] > 0.9 * seen["window"]
    if product == "Commander Cool 2":
        # The September 2015 bomb is its own one-day box, apart from the long shift's lane,
        # and the 828-review month no longer flattens the others.
        bomb = next(a for a in seen["alerts"] if a["kind"] == "negative")
        assert "negative:356070:2015-09-07" in bomb["tip"] and bomb["width"] >= 3
        assert any(t.startswith("reviews per month (axis cut at") for t in seen["volume"])
        assert "828" in seen["volume"]  # the tall month, marked with its count
    if product == "Stories Untold":
        assert any(a["kind"] == "negative" and "2017-10-07 (1 day)" in a["tip"]
                   for a in seen["alerts"])
    chromium.screenshot(target, "timeline-" + product.lower().replace(" ", "-"))
