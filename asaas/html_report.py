"""`asaas report --html`: one self-contained HTML file with the metric table, ROC and PR curves,
reliability diagrams and confusion matrices, drawn as inline SVG from the SQL views.

No JavaScript library and nothing fetched from the network: the file opens anywhere, offline,
and can be mailed around. A few lines of script only check that every plot rendered and put the
result in the page title (which the browser test reads).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asaas import __version__
from asaas.errors import AsaasError
from asaas.clock import utcnow
from asaas.report import Table, format_cell, query
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
PAGE_COLUMNS = ("model", "version", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
                "precision", "recall", "f1", "roc_auc", "average_precision", "brier_score",
                "expected_calibration_error")


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
    shown = Table(list(PAGE_COLUMNS), [tuple(r[c] for c in PAGE_COLUMNS) for r in rows])
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
