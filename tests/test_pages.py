"""HTML pages: the chart toolkit's data reaches the page escaped, pages are written atomically,
and a page that cannot be written is a one-line error (the pages themselves are drawn in real
Chromium, through tests/chromium.py, by tests/test_report.py, tests/timeline/test_series.py,
tests/timeline/test_page.py and tests/test_page_escaping.py)."""

from __future__ import annotations

import os
from datetime import date

import pytest

from asaas.charts import Chart, Frame, Shape, Swatch, band, days, line, time_ticks
from asaas.errors import AsaasError
from asaas.pages import _environment, write_page
from asaas.tables import Table

HOSTILE = '"><script>alert(1)</script><b x="'


def _draw(chart: Chart) -> str:
    return _environment().from_string(
        '{% import "charts.html" as draw %}{{ draw.figure(chart) }}').render(chart=chart)


def test_every_text_of_a_chart_is_escaped():
    frame = Frame(200, 100, 0, 10, 1.0, left=20, right=10, top=10, bottom=20)
    shapes = frame.axes(HOSTILE, HOSTILE, xticks=[(5, HOSTILE)], yticks=[(0.5, HOSTILE)],
                        xlabel=HOSTILE)
    shapes += line(frame, [(1, 0.2), (2, 0.4)], "#123456", HOSTILE)
    shapes.append(Shape("rect", {"class": "cell", "data-x": HOSTILE}, tip=HOSTILE))
    page = _draw(Chart(200, 100, HOSTILE, shapes, [Swatch(HOSTILE, "#123456")]))
    assert "<script>" not in page and "<b " not in page
    # title, y label, 2 tick labels, x label, the line's tooltip, the rect's attribute and
    # tooltip, the chart's aria-label, the legend
    assert page.count("&lt;script&gt;") == 10
    assert page.startswith('<figure><svg class="plot"')


def test_result_tables_are_escaped_and_formatted_as_text_output():
    html = _environment().from_string('{% import "charts.html" as draw %}{{ draw.table(t) }}'
                                      ).render(t=Table(["a<b", "p"], [("<i>x</i>", 3.2e-07)]))
    assert "<th>a&lt;b</th>" in html and "<td>&lt;i&gt;x&lt;/i&gt;</td>" in html
    assert "<td>3.2e-07</td>" in html


def test_lines_and_bands_break_at_missing_values():
    frame = Frame(100, 100, 0, 4, 1.0, left=0, right=0, top=0, bottom=0)
    pieces = line(frame, [(0, 0.1), (1, 0.2), (2, None), (3, 0.3)], "#000", "s")
    assert [p.tag for p in pieces] == ["polyline", "circle"]  # the lone point is a dot
    assert pieces[0].attrs["points"] == "0.0,90.0 25.0,80.0"
    shaded = band(frame, [(0, 0.1, 0.3), (1, None, 0.4), (2, 0.2, 0.5), (3, 0.1, 0.2)], "#000",
                  "b", 0.1)
    assert [p.tag for p in shaded] == ["rect", "polygon"]
    thinned = line(frame, [(i / 1000, 0.5) for i in range(1000)], "#000", "s", most=10)
    assert len(thinned[0].attrs["points"].split()) == 11


def test_time_ticks():
    """Mondays over a few weeks; years, at most eight ticks, over a long history."""
    weeks = time_ticks(days(date(2020, 1, 1)), days(date(2020, 1, 31)))
    assert [label for _, label in weeks] == ["2020-01-06", "2020-01-13", "2020-01-20",
                                             "2020-01-27"]
    years = time_ticks(days(date(2010, 1, 1)), days(date(2018, 1, 1)))
    assert [label for _, label in years] == ["2010", "2012", "2014", "2016", "2018"]
    # Decades (a review dated 1970 among 2018's: the steps ran out, StopIteration).
    decades = time_ticks(days(date(1970, 1, 1)), days(date(2018, 3, 1)))
    assert [label for _, label in decades] == ["1970", "1980", "1990", "2000", "2010"]


def test_write_page_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "page.html"
    target.write_text("old page", encoding="utf-8")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(AsaasError, match="cannot write .*page.html: No space left on device"):
        write_page(target, "new page")
    assert target.read_text(encoding="utf-8") == "old page"  # never half a page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no temp file left
    monkeypatch.undo()
    write_page(target, "new page")
    assert target.read_text(encoding="utf-8") == "new page"
    assert target.stat().st_mode & 0o044  # readable by others, as a page one mails or serves


def test_write_page_errors(tmp_path):
    with pytest.raises(AsaasError, match="folder .*missing does not exist"):
        write_page(tmp_path / "missing" / "page.html", "x")
    with pytest.raises(AsaasError, match="cannot write"):
        write_page(tmp_path, "x")  # a folder, not a file
