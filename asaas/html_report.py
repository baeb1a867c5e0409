"""`asaas report --html`: one self-contained HTML file with the metric table, ROC and PR curves,
reliability diagrams and confusion matrices, drawn as inline SVG from the SQL views; and
`asaas timeline --html`: per product, the negative share over time (observed and per model
version, with bands), review volume, events as lines and alert periods shaded.

No JavaScript library and nothing fetched from the network: the file opens anywhere, offline,
and can be mailed around. A few lines of script only check that every plot rendered and put the
result in the page title (which the browser tests read), and make the product picker jump.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from asaas import __version__
from asaas.errors import AsaasError
from asaas.clock import utcnow
from asaas.tables import Table, format_cell, query
from asaas.store import Store

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22")
MAX_CURVE_POINTS = 400
SIZE, PAD = 320, 40


def _downsample(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) <= MAX_CURVE_POINTS:
        return points
    step = len(points) / MAX_CURVE_POINTS
    picked = [points[int(i * step)] for i in range(MAX_CURVE_POINTS)]
    return picked + [points[-1]]


def _xy(x: float, y: float) -> str:
    return f"{PAD + x * (SIZE - 2 * PAD):.1f},{SIZE - PAD - y * (SIZE - 2 * PAD):.1f}"


def _axes(title: str, xlabel: str, ylabel: str, diagonal: bool) -> list[str]:
    lo, hi = PAD, SIZE - PAD
    parts = [f'<rect x="{lo}" y="{lo}" width="{hi - lo}" height="{hi - lo}" fill="#fff" '
             'stroke="#999"/>']
    for t in (0.25, 0.5, 0.75):
        a, b = _xy(t, 0), _xy(t, 1)
        c, d = _xy(0, t), _xy(1, t)
        parts.append(f'<polyline points="{a} {b}" stroke="#eee"/>')
        parts.append(f'<polyline points="{c} {d}" stroke="#eee"/>')
    for t in (0, 0.5, 1):
        x, y = _xy(t, 0).split(",")
        parts.append(f'<text x="{x}" y="{float(y) + 14}" font-size="10" '
                     f'text-anchor="middle">{t:g}</text>')
        x, y = _xy(0, t).split(",")
        parts.append(f'<text x="{float(x) - 6}" y="{float(y) + 3}" font-size="10" '
                     f'text-anchor="end">{t:g}</text>')
    if diagonal:
        parts.append(f'<polyline points="{_xy(0, 0)} {_xy(1, 1)}" stroke="#bbb" '
                     'stroke-dasharray="4 3" fill="none"/>')
    parts.append(f'<text x="{SIZE / 2}" y="18" font-size="13" text-anchor="middle" '
                 f'font-weight="bold">{html.escape(title)}</text>')
    parts.append(f'<text x="{SIZE / 2}" y="{SIZE - 6}" font-size="11" '
                 f'text-anchor="middle">{html.escape(xlabel)}</text>')
    parts.append(f'<text x="12" y="{SIZE / 2}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {SIZE / 2})">{html.escape(ylabel)}</text>')
    return parts


def _line_chart(title: str, xlabel: str, ylabel: str,
                series: Sequence[tuple[str, list[tuple[float, float]]]], *, diagonal: bool,
                markers: bool = False) -> str:
    parts = _axes(title, xlabel, ylabel, diagonal)
    for i, (label, points) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        pts = " ".join(_xy(x, y) for x, y in _downsample(points))
        parts.append(f'<polyline class="curve" points="{pts}" fill="none" stroke="{colour}" '
                     f'stroke-width="1.8"><title>{html.escape(label)}</title></polyline>')
        if markers:
            for x, y in points:
                cx, cy = _xy(x, y).split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
        ly = SIZE + 8 + 14 * i  # legend below the plot, clear of the curves
        parts.append(f'<rect x="{PAD}" y="{ly - 4}" width="12" height="3" fill="{colour}"/>'
                     f'<text x="{PAD + 18}" y="{ly}" font-size="11">{html.escape(label)}</text>')
    height = SIZE + 10 + 14 * len(series)
    return (f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{SIZE}" '
            f'height="{height}" viewBox="0 0 {SIZE} {height}" role="img" '
            f'aria-label="{html.escape(title)}">{"".join(parts)}</svg>')


def _confusion_svg(label: str, tn: int, fp: int, fn: int, tp: int) -> str:
    cells = [(0, 0, tn, "TN"), (1, 0, fp, "FP"), (0, 1, fn, "FN"), (1, 1, tp, "TP")]
    total = max(1, tn + fp + fn + tp)
    size, cell, off = 220, 80, 50
    parts = [f'<text x="{size / 2}" y="16" font-size="13" text-anchor="middle" '
             f'font-weight="bold">{html.escape(label)}</text>',
             f'<text x="{off + cell}" y="{off - 14}" font-size="10" text-anchor="middle">'
             'predicted neg / pos</text>',
             f'<text x="14" y="{off + cell}" font-size="10" text-anchor="middle" '
             f'transform="rotate(-90 14 {off + cell})">true neg / pos</text>']
    for col, row, value, name in cells:
        shade = int(235 - 170 * value / total)
        correct = col == row
        fill = f"rgb({shade},{shade + 15 if correct else shade},{255 if correct else shade})"
        x, y = off + col * cell, off + row * cell
        parts.append(f'<rect class="cell" x="{x}" y="{y}" width="{cell}" height="{cell}" '
                     f'fill="{fill}" stroke="#fff"/>')
        parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2}" font-size="14" '
                     f'text-anchor="middle">{value:,}</text>')
        parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 16}" font-size="10" '
                     f'text-anchor="middle" fill="#555">{name}</text>')
    return (f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{size}" '
            f'height="{size}" viewBox="0 0 {size} {size}" role="img" '
            f'aria-label="confusion matrix {html.escape(label)}">{"".join(parts)}</svg>')


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in r)
                   + "</tr>" for r in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _series(store: Store, view: str, x: str, y: str, versions: list[dict], split: str | None,
            dataset: str, order: str) -> list[tuple[str, list[tuple[float, float]]]]:
    out = []
    for v in versions:
        params: dict[str, Any] = {"mv": v["model_version_id"], "dataset": dataset}
        cond = "model_version_id = :mv AND dataset = :dataset"
        if split and split != "all":
            cond += " AND split = :split"
            params["split"] = split
        rows = query(store, f"SELECT {x}, {y} FROM {view} WHERE {cond} AND {x} IS NOT NULL "
                            f"AND {y} IS NOT NULL ORDER BY {order}", params).rows
        out.append((v["label"], [(float(a), float(b)) for a, b in rows]))
    return out


CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;font-size:12px;margin:12px 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.plots{display:flex;flex-wrap:wrap;gap:12px}
.note{color:#666;font-size:12px}"""

CHECK_SCRIPT = """<script>
window.addEventListener('error', function (e) { document.title = 'asaas report: error ' + e.message; });
window.addEventListener('load', function () {
  var plots = document.querySelectorAll('svg.plot');
  var empty = Array.prototype.filter.call(plots, function (s) {
    var box = s.getBBox(); return !(box.width > 0 && box.height > 0) ||
      s.querySelectorAll('polyline.curve, rect.cell').length === 0; });
  document.title = empty.length === 0 && plots.length > 0
    ? 'asaas report: ' + plots.length + ' plots rendered'
    : 'asaas report: ' + empty.length + ' of ' + plots.length + ' plots empty';
});
</script>"""


#: Columns of the metric table on the page.
PAGE_COLUMNS = ("model", "version", "scoring", "n", "coverage", "accuracy", "accuracy_ci_low",
                "accuracy_ci_high", "balanced_accuracy", "precision", "recall", "f1", "roc_auc",
                "average_precision", "brier_score", "expected_calibration_error", "note")


def render_html(store: Store, metrics: Table, *, split: str | None = "test",
                dataset: str = "imdb") -> str:
    """The page for ``metrics`` (a ``metrics_report`` table); curves are read from the views."""
    rows = [r for r in metrics.dicts() if r["n"]]
    if not rows:
        raise AsaasError("no predictions on labelled reviews to plot: run `asaas score` first")
    ids = query(store, "SELECT model_version_id, model, version FROM model_version_names").rows
    by_name = {(m, v): i for i, m, v in ids}
    versions = [{"model_version_id": by_name[(r["model"], r["version"])],
                 "label": f"{r['model']} v{r['version']}", **r} for r in rows]
    roc = _series(store, "roc_curve", "fpr", "tpr", versions, split, dataset, "threshold DESC")
    roc = [(label, [(0.0, 0.0)] + pts) for label, pts in roc]
    pr = _series(store, "pr_curve", "recall", "precision", versions, split, dataset,
                 "threshold DESC")
    cal = _series(store, "calibration_bins", "mean_score", "positive_rate", versions, split,
                  dataset, "bin")
    auc_labels = [(f"{v['label']} AUC {v['roc_auc']:.3f}" if v["roc_auc"] is not None
                   else f"{v['label']}") for v in versions]
    charts = [
        _line_chart("ROC curve", "false positive rate", "true positive rate",
                    [(auc_labels[i], pts) for i, (_, pts) in enumerate(roc)], diagonal=True),
        _line_chart("Precision-recall", "recall", "precision", pr, diagonal=False),
        _line_chart("Reliability", "mean predicted P(positive)", "share positive", cal,
                    diagonal=True, markers=True),
    ]
    confusions = [_confusion_svg(v["label"], v["tn"], v["fp"], v["fn"], v["tp"])
                  for v in versions]
    columns = [c for c in PAGE_COLUMNS if c in metrics.columns]  # note: from report.with_notes
    shown = Table(columns, [tuple(r[c] for c in columns) for r in rows])
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    title = f"asaas report: {dataset} / {split or 'all'}"
    return (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class=\"note\">{len(rows)} model versions; generated {stamp} by asaas "
        f"{__version__}. Every number comes from the SQL views (SELECT * FROM metrics).</p>"
        f"<h2>Metrics</h2>{_table_html(shown)}"
        f"<h2>Curves</h2><div class=\"plots\">{''.join(charts)}</div>"
        f"<h2>Confusion matrices</h2><div class=\"plots\">{''.join(confusions)}</div>"
        f"{CHECK_SCRIPT}</body></html>"
    )


def write_html_report(store: Store, path: str | Path, metrics: Table, *,
                      split: str | None = "test", dataset: str = "imdb") -> Path:
    target = Path(path)
    if not target.parent.exists():
        raise AsaasError(f"cannot write {target}: folder {target.parent} does not exist")
    target.write_text(render_html(store, metrics, split=split, dataset=dataset),
                      encoding="utf-8")
    return target


# -- product timelines (`asaas timeline --html`) -------------------------------------------------

TL_WIDTH, TL_SHARE_H, TL_VOLUME_H = 920, 280, 110
TL_LEFT, TL_RIGHT, TL_TOP, TL_BOTTOM = 56, 16, 26, 30
_PERIOD_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4375}
OBSERVED_COLOUR = "#333"

TIMELINE_CSS = CSS + """
.product{border-top:1px solid #ddd;margin-top:18px;padding-top:6px}
.legend{font-size:12px;color:#444}.legend span{margin-right:14px;white-space:nowrap}
.swatch{display:inline-block;width:14px;height:8px;margin-right:4px;vertical-align:middle}
nav select{font-size:14px;padding:2px}details{font-size:12px}"""

TIMELINE_CHECK_SCRIPT = """<script>
window.addEventListener('error', function (e) {
  document.title = 'asaas timeline: error ' + e.message; });
function drawn(el) { var b = el.getBBox(); return b.width > 0 || b.height > 0; }
window.addEventListener('load', function () {
  var plots = document.querySelectorAll('svg.plot');
  var empty = Array.prototype.filter.call(plots, function (s) {
    var box = s.getBBox(); return !(box.width > 0 && box.height > 0) ||
      s.querySelectorAll('.series, rect.bar').length === 0; });
  var events = Array.prototype.filter.call(document.querySelectorAll('svg.plot .event'), drawn);
  var alerts = Array.prototype.filter.call(document.querySelectorAll('svg.plot .alert'), drawn);
  document.title = empty.length === 0 && plots.length > 0
    ? 'asaas timeline: ' + plots.length + ' plots rendered, ' + events.length + ' events, ' +
      alerts.length + ' alerts'
    : 'asaas timeline: ' + empty.length + ' of ' + plots.length + ' plots empty';
  var picker = document.getElementById('picker');
  if (picker) picker.addEventListener('change', function () { location.hash = picker.value; });
});
</script>"""


def _days(value: date | datetime) -> float:
    """A date or naive datetime as days since 1970-01-01 (the x axis)."""
    if isinstance(value, datetime):
        return (value - datetime(1970, 1, 1)).total_seconds() / 86400
    return float((value - date(1970, 1, 1)).days)


def _nice_max(value: float) -> float:
    for top in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0):
        if value <= top:
            return top
    return 1.0


def _month_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    first = date(1970, 1, 1) + timedelta(days=int(lo))
    last = date(1970, 1, 1) + timedelta(days=int(hi) + 1)
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months <= 2:  # a few weeks: Mondays
        start = first - timedelta(days=first.weekday())
        days = [start + timedelta(weeks=k) for k in range(int((hi - lo) / 7) + 2)]
        return [(_days(d), d.isoformat()) for d in days if lo <= _days(d) <= hi]
    step = next(s for s in (1, 2, 3, 6, 12, 24, 60) if months / s <= 8)
    ticks, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        if (y * 12 + m - 1) % step == 0:
            d = date(y, m, 1)
            if lo <= _days(d) <= hi:
                ticks.append((_days(d), str(y) if step >= 12 else f"{y}-{m:02d}"))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return ticks


class _Frame:
    """Maps days and values to pixels in one panel."""

    def __init__(self, lo: float, hi: float, ymax: float, height: int) -> None:
        self.lo, self.hi, self.ymax, self.height = lo, max(hi, lo + 1), ymax, height

    def x(self, days: float) -> float:
        return TL_LEFT + (days - self.lo) / (self.hi - self.lo) * (TL_WIDTH - TL_LEFT - TL_RIGHT)

    def y(self, value: float) -> float:
        inner = self.height - TL_TOP - TL_BOTTOM
        return self.height - TL_BOTTOM - min(value, self.ymax) / self.ymax * inner

    def axes(self, title: str, ylabel: str, ticks: list[float], fmt: str) -> list[str]:
        x0, x1 = TL_LEFT, TL_WIDTH - TL_RIGHT
        y0, y1 = TL_TOP, self.height - TL_BOTTOM
        parts = [f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="#fff" '
                 'stroke="#999"/>']
        for t in ticks:
            y = self.y(t)
            parts.append(f'<polyline points="{x0},{y:.1f} {x1},{y:.1f}" stroke="#eee"/>'
                         f'<text x="{x0 - 5}" y="{y + 3:.1f}" font-size="10" '
                         f'text-anchor="end">{format(t, fmt)}</text>')
        for d, label in _month_ticks(self.lo, self.hi):
            x = self.x(d)
            parts.append(f'<polyline points="{x:.1f},{y0} {x:.1f},{y1}" stroke="#f0f0f0"/>'
                         f'<text x="{x:.1f}" y="{y1 + 13}" font-size="10" '
                         f'text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{x0}" y="16" font-size="12" font-weight="bold">'
                     f'{html.escape(title)}</text>')
        parts.append(f'<text x="12" y="{(y0 + y1) / 2}" font-size="11" text-anchor="middle" '
                     f'transform="rotate(-90 12 {(y0 + y1) / 2})">{html.escape(ylabel)}</text>')
        return parts


def _segments(points: list[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive defined points (a missing value breaks the line)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


def _line(frame: _Frame, points: list[tuple[float, float | None]], colour: str, label: str,
          dash: str = "") -> list[str]:
    out = []
    for run in _segments(points):
        pts = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in run)
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        if len(run) == 1:  # a lone period: a dot, so it is not lost
            x, y = run[0]
            out.append(f'<circle class="series" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" '
                       f'r="2.5" fill="{colour}"><title>{html.escape(label)}</title></circle>')
        else:
            out.append(f'<polyline class="series" points="{pts}" fill="none" stroke="{colour}" '
                       f'stroke-width="1.6"{dashing}><title>{html.escape(label)}</title>'
                       '</polyline>')
    return out


def _band(frame: _Frame, points: list[tuple[float, float | None, float | None]], colour: str,
          label: str, opacity: float) -> list[str]:
    out = []
    for run in _segments([(x, (lo, hi) if lo is not None and hi is not None else None)
                          for x, lo, hi in points]):
        upper = [f"{frame.x(x):.1f},{frame.y(hi):.1f}" for x, (lo, hi) in run]
        lower = [f"{frame.x(x):.1f},{frame.y(lo):.1f}" for x, (lo, hi) in reversed(run)]
        if len(run) == 1:  # one period: a short vertical bar
            x, (lo, hi) = run[0]
            out.append(f'<rect class="band" x="{frame.x(x) - 2:.1f}" y="{frame.y(hi):.1f}" '
                       f'width="4" height="{max(frame.y(lo) - frame.y(hi), 0.5):.1f}" '
                       f'fill="{colour}" fill-opacity="{opacity}"/>')
            continue
        out.append(f'<polygon class="band" points="{" ".join(upper + lower)}" fill="{colour}" '
                   f'fill-opacity="{opacity}" stroke="none"><title>{html.escape(label)}</title>'
                   '</polygon>')
    return out


def _marks(frame: _Frame, height: int, events: Sequence[Any], alerts: Sequence[Any],
           labels: bool) -> list[str]:
    """Alert periods shaded, events as dashed vertical lines (labelled on the share panel)."""
    out = []
    y0, y1 = TL_TOP, height - TL_BOTTOM
    for a in alerts:
        lo, hi = max(_days(a.start), frame.lo), min(_days(a.end), frame.hi)
        if hi < lo:
            continue
        x0, x1 = frame.x(lo), frame.x(hi)
        last = a.end - timedelta(microseconds=1)  # spans end at midnight after their last day
        tip = html.escape(f"{a.kind} alert {a.start:%Y-%m-%d} to {last:%Y-%m-%d}: {a.label}")
        out.append(f'<rect class="alert" x="{x0:.1f}" y="{y0}" width="{max(x1 - x0, 2):.1f}" '
                   f'height="{y1 - y0}" fill="#d62728" fill-opacity="0.13">'
                   f'<title>{tip}</title></rect>')
    for k, e in enumerate(events):
        at = _days(e.at)
        if not frame.lo <= at <= frame.hi:
            continue
        x = frame.x(at)
        tip = html.escape(f"{e.at:%Y-%m-%d} {e.kind}: {e.title}")
        out.append(f'<g class="event"><polyline points="{x:.1f},{y0} {x:.1f},{y1}" '
                   f'stroke="#8c564b" stroke-width="1.2" stroke-dasharray="5 3"/>'
                   f'<title>{tip}</title></g>')
        if labels:
            out.append(f'<text x="{x + 3:.1f}" y="{y0 + 11 + 11 * (k % 3)}" font-size="10" '
                       f'fill="#8c564b">{html.escape(e.title[:40])}</text>')
    return out


def _svg(body: list[str], height: int, label: str) -> str:
    return (f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{TL_WIDTH}" '
            f'height="{height}" viewBox="0 0 {TL_WIDTH} {height}" role="img" '
            f'aria-label="{html.escape(label)}">{"".join(body)}</svg>')


def timeline_charts(name: str, freq: str, observed: list[dict], models: list[dict],
                    events: Sequence[Any] = (), alerts: Sequence[Any] = ()) -> str:
    """Two SVG panels for one product: the negative share (observed from labels with its band,
    each model version's corrected share with its band and raw share dashed) and the review
    volume; events as dashed vertical lines, alerts shaded.

    ``observed``: rows with period_start, n_reviews, observed_negative_share, observed_ci_low,
    observed_ci_high. ``models``: rows with period_start, model, predicted_negative_share,
    corrected_negative_share, corrected_ci_low, corrected_ci_high. ``events``: objects with
    ``at``, ``kind``, ``title``; ``alerts``: with ``start``, ``end``, ``label``, ``kind``.
    """
    if not observed and not models:
        raise AsaasError(f"nothing to draw for {name}: no reviews in the window")
    half = _PERIOD_DAYS[freq] / 2
    starts = [_days(r["period_start"]) for r in observed + models]
    lo, hi = min(starts), max(starts) + 2 * half
    # The axis follows the estimates, not their intervals: a month of five reviews has an
    # interval up to 100% that would flatten every line; bands are clipped at the top.
    peak = 1.15 * max([0.0] + [r["observed_negative_share"] or 0.0 for r in observed]
                      + [r[c] or 0.0 for r in models for c in ("corrected_negative_share",
                                                               "predicted_negative_share")])
    share = _Frame(lo, hi, _nice_max(peak), TL_SHARE_H)
    ticks = [share.ymax * k / 4 for k in range(5)]
    body = share.axes(f"{name}: negative share per {freq}", "negative share", ticks, ".0%")
    body += _marks(share, TL_SHARE_H, events, alerts, labels=True)
    mid = [(_days(r["period_start"]) + half, r) for r in observed]
    body += _band(share, [(x, r["observed_ci_low"], r["observed_ci_high"]) for x, r in mid],
                  OBSERVED_COLOUR, "observed (labels), 95% interval", 0.15)
    by_model: dict[str, list[dict]] = {}
    for r in models:
        by_model.setdefault(r["model"], []).append(r)
    legend = [f'<span><i class="swatch" style="background:{OBSERVED_COLOUR};opacity:.6"></i>'
              'observed from labels (band: 95% interval)</span>']
    for i, (model, rows) in enumerate(by_model.items()):
        colour = PALETTE[i % len(PALETTE)]
        pts = [(_days(r["period_start"]) + half, r) for r in rows]
        body += _band(share, [(x, r["corrected_ci_low"], r["corrected_ci_high"]) for x, r in pts],
                      colour, f"{model} corrected, 95% interval", 0.10)
        body += _line(share, [(x, r["predicted_negative_share"]) for x, r in pts], colour,
                      f"{model} raw (classify and count)", dash="4 3")
        body += _line(share, [(x, r["corrected_negative_share"]) for x, r in pts], colour,
                      f"{model} corrected")
        reasons = {r["corrected_reason"] for r in rows if r["corrected_negative_share"] is None}
        what = ("raw dashed; not corrected: " + "; ".join(sorted(r for r in reasons if r))
                if all(r["corrected_negative_share"] is None for r in rows)
                else "corrected (band: 95% interval), raw dashed")
        legend.append(f'<span><i class="swatch" style="background:{colour}"></i>'
                      f'{html.escape(model)}: {html.escape(what)}</span>')
    body += _line(share, [(x, r["observed_negative_share"]) for x, r in mid], OBSERVED_COLOUR,
                  "observed (labels)")
    volume_rows = observed or [r for r in models if r["model"] == next(iter(by_model))]
    top = max(r["n_reviews"] for r in volume_rows)
    vol = _Frame(lo, hi, float(top), TL_VOLUME_H)
    vbody = vol.axes(f"reviews per {freq}", "reviews", [0.0, float(top)], ",.0f")
    vbody += _marks(vol, TL_VOLUME_H, events, alerts, labels=False)
    for r in volume_rows:
        x0, x1 = vol.x(_days(r["period_start"])), vol.x(_days(r["period_start"]) + 2 * half)
        y = vol.y(r["n_reviews"])
        vbody.append(f'<rect class="bar" x="{x0:.1f}" y="{y:.1f}" '
                     f'width="{max(x1 - x0 - 0.5, 0.6):.1f}" '
                     f'height="{TL_VOLUME_H - TL_BOTTOM - y:.1f}" fill="#9ecae1">'
                     f'<title>{r["period_start"]}: {r["n_reviews"]:,} reviews</title></rect>')
    if events:
        legend.append('<span><i class="swatch" style="background:#8c564b"></i>events</span>')
    if alerts:
        legend.append('<span><i class="swatch" style="background:#d62728;opacity:.3"></i>'
                      'alerts</span>')
    return (_svg(body, TL_SHARE_H, f"{name} negative share") + f'<div class="legend">'
            f'{"".join(legend)}</div>' + _svg(vbody, TL_VOLUME_H, f"{name} review volume"))


#: Columns of the numbers under each product's charts (the rest: `asaas timeline --format csv`).
TIMELINE_TABLE_COLUMNS = ("period_start", "model", "n_reviews", "observed_negative_share",
                          "predicted_negative_share", "corrected_negative_share",
                          "corrected_ci_low", "corrected_ci_high", "corrected_reason")


def _anchor(product: Any) -> str:
    return "p-" + "".join(c if c.isalnum() else "-" for c in product.external_id)


def render_timeline_html(series: Any, observed: dict[int, list[dict]],
                         events: Sequence[Any] = (), alerts: Sequence[Any] = ()) -> str:
    """The page for a ``Series`` (``asaas.timeline.series``): one section per product with
    its charts, a picker to jump between products, and the numbers in a table under each.

    ``observed`` maps product id to its label-only rows (product_timeline); the model rows come
    from ``series.table``. Events and alerts are matched to products by ``product_id``.
    """
    rows = series.table.dicts()
    sections, options = [], []
    for product in sorted(series.products, key=lambda p: (p.name or p.external_id).casefold()):
        mine_obs = observed.get(product.id, [])
        mine = [r for r in rows if r["product"] == product.external_id] if series.versions \
            else []
        if not mine_obs and not mine:
            continue
        anchor = _anchor(product)
        options.append(f'<option value="{anchor}">{html.escape(product.label)}</option>')
        charts = timeline_charts(product.name or product.external_id, series.freq, mine_obs,
                                 mine, [e for e in events if e.product_id == product.id],
                                 [a for a in alerts if a.product_id == product.id])
        shown = (Table(series.table.columns, [tuple(r.values()) for r in mine]) if mine
                 else Table(list(mine_obs[0]), [tuple(r.values()) for r in mine_obs]))
        shown = shown.select([c for c in TIMELINE_TABLE_COLUMNS if c in shown.columns])
        total = sum(r["n_reviews"] for r in mine_obs) if mine_obs else None
        sections.append(
            f'<section class="product" id="{anchor}"><h2>{html.escape(product.label)}</h2>'
            f'<p class="note">{series.dataset} reviews'
            f'{f", {total:,} in these periods" if total is not None else ""}; language '
            f'{html.escape(series.language)}; <a href="#top">top</a></p>{charts}'
            f'<details><summary>numbers</summary>{_table_html(shown)}</details></section>')
    if not sections:
        raise AsaasError("no reviews in the window for any of these products: nothing to draw")
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    title = f"asaas timeline: {series.dataset} per {series.freq}"
    models = ", ".join(v.label for v in series.versions) or "none (labels only)"
    picker = (f'<nav>Product: <select id="picker">{"".join(options)}</select></nav>'
              if len(sections) > 1 else "")
    return (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{TIMELINE_CSS}</style></head><body>"
        f"<h1 id=\"top\">{html.escape(title)}</h1>"
        f"<p class=\"note\">{len(sections)} products; model versions: {html.escape(models)}; "
        f"generated {stamp} by asaas {__version__}. Every number comes from the SQL views "
        "(SELECT * FROM timeline / product_timeline). Corrected share: adjusted classify and "
        "count with the version's error rates on held-out labelled reviews.</p>"
        f"{picker}{''.join(sections)}{TIMELINE_CHECK_SCRIPT}</body></html>"
    )


def write_timeline_html(store: Store, path: str | Path, series: Any) -> Path:
    """Write the page for ``series``, with the products' events and alert periods."""
    from asaas.timeline.marks import alerts_for, events_for
    from asaas.timeline.series import read_series

    target = Path(path)
    if not target.parent.exists():
        raise AsaasError(f"cannot write {target}: folder {target.parent} does not exist")
    labels = read_series(store, series.products, dataset=series.dataset, freq=series.freq,
                         language=series.language, since=series.since, until=series.until)
    by_external = {p.external_id: p.id for p in series.products}
    observed: dict[int, list[dict]] = {}
    for r in labels.dicts():
        observed.setdefault(by_external[r["product"]], []).append(r)
    ids = [p.id for p in series.products]
    alerts = alerts_for(store, ids, dataset=series.dataset, since=series.since,
                        until=series.until)
    page = render_timeline_html(series, observed, events_for(store, ids), alerts)
    target.write_text(page, encoding="utf-8")
    return target
