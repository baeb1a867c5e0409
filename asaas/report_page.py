"""`asaas report --html`: one self-contained page with the metric table, the ROC, precision-recall
and reliability curves, and the confusion matrices, drawn as inline SVG from the SQL views
(template: ``templates/report.html``; charts: ``asaas.charts``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asaas.charts import PALETTE, Chart, Frame, Shape, Swatch, line, text
from asaas.errors import AsaasError
from asaas.pages import check_target, render, write_page
from asaas.report import PAIRS_HEADING, Report
from asaas.store import Store
from asaas.tables import Table, query

#: Points drawn of one curve at most (a ROC curve has a point per distinct score).
MAX_CURVE_POINTS = 400
SIZE, PAD = 320, 40
UNIT_TICKS = [(t, f"{t:g}") for t in (0, 0.25, 0.5, 0.75, 1)]


def curve_chart(title: str, xlabel: str, ylabel: str,
                series: Sequence[tuple[str, list[tuple[float, float]]]], *, diagonal: bool,
                markers: bool = False) -> Chart:
    """Curves on the unit square, one colour per version (``diagonal``: the line of chance or
    of perfect calibration)."""
    frame = Frame(SIZE, SIZE, 0.0, 1.0, 1.0, left=PAD, right=PAD, top=PAD, bottom=PAD)
    shapes = frame.axes(title, ylabel, xticks=UNIT_TICKS, yticks=UNIT_TICKS, xlabel=xlabel)
    if diagonal:
        shapes.append(Shape("polyline", {"points": f"{frame.point(0, 0)} {frame.point(1, 1)}",
                                         "stroke": "#bbb", "stroke-dasharray": "4 3",
                                         "fill": "none"}))
    legend = []
    for i, (label, points) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        shapes += line(frame, points, colour, label, markers=markers, most=MAX_CURVE_POINTS)
        legend.append(Swatch(label, colour))
    return frame.chart(title, shapes, legend)


def confusion_chart(label: str, tn: int, fp: int, fn: int, tp: int) -> Chart:
    """The 2x2 confusion matrix, each cell shaded by its count (correct cells blue)."""
    total = max(1, tn + fp + fn + tp)
    size, cell, off = 220, 80, 50
    shapes = [text(size / 2, 16, label, size=13, anchor="middle", bold=True),
              text(off + cell, off - 14, "predicted neg / pos", anchor="middle"),
              text(14, off + cell, "true neg / pos", anchor="middle", rotate=True)]
    for col, row, value, name in [(0, 0, tn, "TN"), (1, 0, fp, "FP"), (0, 1, fn, "FN"),
                                  (1, 1, tp, "TP")]:
        shade = int(235 - 170 * value / total)
        correct = col == row
        fill = f"rgb({shade},{shade + 15 if correct else shade},{255 if correct else shade})"
        x, y = off + col * cell, off + row * cell
        shapes += [Shape("rect", {"class": "cell", "x": x, "y": y, "width": cell, "height": cell,
                                  "fill": fill, "stroke": "#fff"}),
                   text(x + cell / 2, y + cell / 2, f"{value:,}", size=14, anchor="middle"),
                   text(x + cell / 2, y + cell / 2 + 16, name, anchor="middle", fill="#555")]
    return Chart(size, size, f"confusion matrix {label}", shapes)


def _curves(store: Store, view: str, x: str, y: str, versions: list[dict], split: str | None,
            dataset: str, order: str) -> list[tuple[str, list[tuple[float, float]]]]:
    """(version label, points) of one curve view for each version."""
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


def render_html(store: Store, report: Report, *, full: bool = False) -> str:
    """The page for ``report`` (``asaas.report.build_report``): the metric table as the text
    output shows it (compact unless ``full``, the note column included), the paired
    comparisons, and the curves and confusion matrices read from the views."""
    rows = [r for r in report.metrics.dicts() if r["n"]]
    if not rows:
        raise AsaasError("no predictions on labelled reviews to plot: run `asaas score` first")
    split, dataset = report.split, report.dataset
    ids = query(store, "SELECT model_version_id, model, version FROM model_version_names").rows
    by_name = {(m, v): i for i, m, v in ids}
    versions = [{"model_version_id": by_name[(r["model"], r["version"])],
                 "label": f"{r['model']} v{r['version']}", **r} for r in rows]
    roc = _curves(store, "roc_curve", "fpr", "tpr", versions, split, dataset, "threshold DESC")
    auc = [f"{v['label']} AUC {v['roc_auc']:.3f}" if v["roc_auc"] is not None else v["label"]
           for v in versions]
    pr = _curves(store, "pr_curve", "recall", "precision", versions, split, dataset,
                 "threshold DESC")
    cal = _curves(store, "calibration_bins", "mean_score", "positive_rate", versions, split,
                  dataset, "bin")
    curves = [
        curve_chart("ROC curve", "false positive rate", "true positive rate",
                    [(label, [(0.0, 0.0)] + pts) for label, (_, pts) in zip(auc, roc)],
                    diagonal=True),
        curve_chart("Precision-recall", "recall", "precision", pr, diagonal=False),
        curve_chart("Reliability", "mean predicted P(positive)", "share positive", cal,
                    diagonal=True, markers=True),
    ]
    shown = report.shown(full)
    scored = Table(shown.columns, [row for row, d in zip(shown.rows, report.metrics.dicts())
                                   if d["n"]])
    return render("report.html", page="asaas report", count_marks=False,
                  title=f"asaas report: {dataset} / {split or 'all'}", n_versions=len(rows),
                  metrics=scored,
                  pairs=report.pairs, pairs_heading=PAIRS_HEADING, curves=curves,
                  confusions=[confusion_chart(v["label"], v["tn"], v["fp"], v["fn"], v["tp"])
                              for v in versions])


def write_html_report(store: Store, path: str | Path, report: Report, *,
                      full: bool = False) -> Path:
    """Write the page for ``report`` to ``path`` (atomically)."""
    target = check_target(path)
    return write_page(target, render_html(store, report, full=full))
