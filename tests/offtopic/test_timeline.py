"""asaas.offtopic.timeline: the negative share with off-topic reviews set aside (`asaas timeline
--offtopic`, the offtopic_timeline view) and the off-topic periods the HTML page marks, read in
headless Chromium."""

from __future__ import annotations

import pytest

from asaas.offtopic.timeline import offtopic_periods
from tests import chromium
from tests.helpers import ok, q
from tests.offtopic_data import bomb_db

#: What the page draws for off-topic periods: the lane's boxes, the tints in the plots, the key.
PROBE = """(function () {
  var svgs = document.querySelectorAll('svg.plot');
  function tips(svg, sel) { return Array.prototype.map.call(svg.querySelectorAll(sel),
    function (r) { return r.querySelector('title').textContent; }); }
  return {
    lane: tips(svgs[0], 'rect.offtopic'),
    kinds: Array.prototype.map.call(svgs[0].querySelectorAll('rect.offtopic'),
      function (r) { return r.dataset.kind; }),
    shareTint: tips(svgs[0], '.offtopic-days'), volumeTint: tips(svgs[1], '.offtopic-days'),
    alerts: tips(svgs[0], 'rect.alert'),
    labels: Array.prototype.map.call(svgs[0].querySelectorAll('text'), function (t) {
      return t.firstChild && t.firstChild.nodeType === 3 ? t.firstChild.textContent : ''; }),
    key: document.querySelector('.key').textContent,
    summary: document.querySelector('.summary').textContent,
    alertsTable: document.querySelector('details table') ?
      document.querySelector('details table').textContent : ''
  };
})()"""


def test_timeline_sets_offtopic_reviews_aside(invoke, annotated, db_path, tmp_path):
    bomb_db(invoke, annotated, db_path, tmp_path)
    page = tmp_path / "t.html"
    out = ok(invoke("timeline", "700", "--freq", "week", "--offtopic", "offtopic",
                    "--format", "csv", "--html", str(page)))
    rows = [line.split(",") for line in out.splitlines()]
    header = rows.index(next(r for r in rows if "on_topic_negative_share" in r))
    cols = rows[header]
    body = [dict(zip(cols, r)) for r in rows[header + 1:]]
    burst = next(r for r in body if r["period_start"] == "2021-02-15")
    # 88 reviews that week, 67 negative, 60 of them off-topic: set aside, the share is the
    # week's ordinary one again (1 in 4).
    assert float(burst["observed_negative_share"]) == pytest.approx(67 / 88)
    assert float(burst["on_topic_negative_share"]) < 0.4
    via_sql = q(db_path, "SELECT n_offtopic FROM offtopic_timeline WHERE freq = 'week' AND "
                         "period_start = DATE '2021-02-15'")
    assert via_sql[0][0] >= 55
    # The page, as a browser draws it: the burst's week, and only it, is an off-topic period,
    # in its own lane and tinted in both plots; it is not counted or listed as an alert.
    title, seen = chromium.load(page, PROBE)
    assert seen["kinds"] == ["offtopic"] and len(seen["lane"]) == 1
    assert "off-topic" in seen["labels"]  # the lane's name
    (tip,) = seen["lane"]
    assert tip.startswith("off-topic period 2021-02-15 to 2021-02-21 (7 days): off-topic: ")
    assert seen["shareTint"] == [tip] and seen["volumeTint"] == [tip]
    assert "off-topic: a period whose corrected off-topic share is at least 20%" in seen["key"]
    assert "1 off-topic period" in seen["summary"]
    assert all("off-topic" not in a for a in seen["alerts"])
    assert "off-topic" not in seen["alertsTable"]
    assert title.endswith(f"{len(seen['alerts'])} alerts")
    chromium.screenshot(page, "timeline-offtopic-period")


def test_only_periods_clearly_off_topic_are_marked():
    """A period is marked when its corrected off-topic share's lower 95% bound reaches 20% and
    it has enough reviews: not on the estimate alone, not on a handful of reviews."""
    from datetime import date

    def row(n, share, low):
        return {"product_id": 1, "period_start": date(2021, 2, 1), "n_reviews": n,
                "corrected_offtopic_share": share, "offtopic_ci_low": low,
                "offtopic_ci_high": None if share is None else min(1.0, 2 * share - low)}

    assert len(offtopic_periods([row(100, 0.5, 0.3)], "month")) == 1
    assert offtopic_periods([row(100, 0.3, 0.15)], "month") == []  # estimate high, bound low
    assert offtopic_periods([row(10, 0.9, 0.6)], "month") == []  # too few reviews
    assert offtopic_periods([row(100, None, None)], "month") == []  # no correction possible
    (mark,) = offtopic_periods([row(100, 0.5, 0.3)], "week")
    assert (mark[2] - mark[1]).days == 7
