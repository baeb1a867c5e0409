"""`asaas timeline --html`: per product, the negative share over time (observed from the labels and
per model version, with bands), the review volume, events as lines and alert periods shaded, in
one self-contained page (template: ``templates/timeline.html``; charts: ``asaas.charts``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from asaas.charts import (PALETTE, Chart, Frame, Shape, Swatch, band, bars, days, line, nice_max,
                          rule, span, text, time_ticks)
from asaas.errors import AsaasError
from asaas.pages import check_target, render, write_page
from asaas.store import Store
from asaas.tables import Table
from asaas.timeline.marks import AlertSpan, EventMark, alerts_for, events_for
from asaas.timeline.products import Product
from asaas.timeline.series import Series, read_series

WIDTH, SHARE_HEIGHT, VOLUME_HEIGHT = 920, 280, 110
MARGINS = {"left": 56, "right": 16, "top": 26, "bottom": 30}
PERIOD_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4375}
OBSERVED_COLOUR, EVENT_COLOUR, ALERT_COLOUR, BAR_COLOUR = "#333", "#8c564b", "#d62728", "#9ecae1"
#: Periods an off-topic classifier marks (asaas.offtopic.timeline; AlertSpan kind "offtopic").
OFFTOPIC_COLOUR = "#9467bd"

#: Columns of the numbers under each product's charts (the rest: `asaas timeline --format csv`).
TIMELINE_TABLE_COLUMNS = ("period_start", "model", "n_reviews", "observed_negative_share",
                          "predicted_negative_share", "corrected_negative_share",
                          "corrected_ci_low", "corrected_ci_high", "corrected_reason")


def _marks(frame: Frame, events: Sequence[EventMark], alerts: Sequence[AlertSpan], *,
           labels: bool) -> list[Shape]:
    """Alert periods shaded, events as dashed vertical lines (titled on the share panel)."""
    out: list[Shape] = []
    for a in alerts:
        last = a.end - timedelta(microseconds=1)  # spans end at midnight after their last day
        off = a.kind == "offtopic"
        shade = span(frame, days(a.start), days(a.end), OFFTOPIC_COLOUR if off else ALERT_COLOUR,
                     0.13, f"{'off-topic period' if off else a.kind + ' alert'} "
                     f"{a.start:%Y-%m-%d} to {last:%Y-%m-%d}: {a.label}",
                     cls="offtopic" if off else "alert")
        if shade is not None:
            out.append(shade)
    for k, e in enumerate(events):
        mark = rule(frame, days(e.at), EVENT_COLOUR, f"{e.at:%Y-%m-%d} {e.kind}: {e.title}",
                    cls="event")
        if mark is None:
            continue
        out.append(mark)
        if labels:
            out.append(text(frame.x(days(e.at)) + 3, frame.top + 11 + 11 * (k % 3),
                            e.title[:40], fill=EVENT_COLOUR))
    return out


def timeline_charts(name: str, freq: str, observed: list[dict], models: list[dict],
                    events: Sequence[EventMark] = (), alerts: Sequence[AlertSpan] = ()
                    ) -> list[Chart]:
    """Two panels for one product: the negative share (observed from labels with its band, each
    model version's corrected share with its band and raw share dashed; the legend) and the
    review volume; events as dashed vertical lines, alerts shaded.

    ``observed``: rows with period_start, n_reviews, observed_negative_share, observed_ci_low,
    observed_ci_high. ``models``: rows with period_start, model, predicted_negative_share,
    corrected_negative_share, corrected_ci_low, corrected_ci_high, corrected_reason.
    """
    if not observed and not models:
        raise AsaasError(f"nothing to draw for {name}: no reviews in the window")
    half = PERIOD_DAYS[freq] / 2
    starts = [days(r["period_start"]) for r in observed + models]
    lo, hi = min(starts), max(starts) + 2 * half
    by_model: dict[str, list[dict]] = {}
    for r in models:
        by_model.setdefault(r["model"], []).append(r)
    # The volume of the labels' series; without labels, of the first model's.
    volume_rows = observed or next(iter(by_model.values()))
    return [_share_chart(name, freq, lo, hi, observed, by_model, events, alerts),
            _volume_chart(name, freq, lo, hi, volume_rows, events, alerts)]


def _share_chart(name: str, freq: str, lo: float, hi: float, observed: list[dict],
                 by_model: dict[str, list[dict]], events: Sequence[EventMark],
                 alerts: Sequence[AlertSpan]) -> Chart:
    half = PERIOD_DAYS[freq] / 2
    # The axis follows the estimates, not their intervals: a month of five reviews has an
    # interval up to 100% that would flatten every line; bands are clipped at the top.
    peak = 1.15 * max([0.0] + [r["observed_negative_share"] or 0.0 for r in observed]
                      + [r[c] or 0.0 for rows in by_model.values() for r in rows
                         for c in ("corrected_negative_share", "predicted_negative_share")])
    frame = Frame(WIDTH, SHARE_HEIGHT, lo, hi, nice_max(peak), **MARGINS)
    ticks = [(frame.y_max * k / 4, f"{frame.y_max * k / 4:.0%}") for k in range(5)]
    body = frame.axes(f"{name}: negative share per {freq}", "negative share",
                      xticks=time_ticks(lo, hi), yticks=ticks)
    body += _marks(frame, events, alerts, labels=True)
    mid = [(days(r["period_start"]) + half, r) for r in observed]
    body += band(frame, [(x, r["observed_ci_low"], r["observed_ci_high"]) for x, r in mid],
                 OBSERVED_COLOUR, "observed (labels), 95% interval", 0.15)
    legend = [Swatch("observed from labels (band: 95% interval)", OBSERVED_COLOUR, 0.6)]
    for i, (model, rows) in enumerate(by_model.items()):
        colour = PALETTE[i % len(PALETTE)]
        pts = [(days(r["period_start"]) + half, r) for r in rows]
        body += band(frame, [(x, r["corrected_ci_low"], r["corrected_ci_high"]) for x, r in pts],
                     colour, f"{model} corrected, 95% interval", 0.10)
        body += line(frame, [(x, r["predicted_negative_share"]) for x, r in pts], colour,
                     f"{model} raw (classify and count)", dash="4 3")
        body += line(frame, [(x, r["corrected_negative_share"]) for x, r in pts], colour,
                     f"{model} corrected")
        reasons = {r["corrected_reason"] for r in rows if r["corrected_negative_share"] is None}
        what = ("raw dashed; not corrected: " + "; ".join(sorted(r for r in reasons if r))
                if all(r["corrected_negative_share"] is None for r in rows)
                else "corrected (band: 95% interval), raw dashed")
        legend.append(Swatch(f"{model}: {what}", colour))
    body += line(frame, [(x, r["observed_negative_share"]) for x, r in mid], OBSERVED_COLOUR,
                 "observed (labels)")
    if events:
        legend.append(Swatch("events", EVENT_COLOUR))
    if any(a.kind != "offtopic" for a in alerts):
        legend.append(Swatch("alerts", ALERT_COLOUR, 0.3))
    if any(a.kind == "offtopic" for a in alerts):
        legend.append(Swatch("off-topic periods (off-topic classifier)", OFFTOPIC_COLOUR, 0.3))
    return frame.chart(f"{name} negative share", body, legend)


def _volume_chart(name: str, freq: str, lo: float, hi: float, rows: list[dict],
                  events: Sequence[EventMark], alerts: Sequence[AlertSpan]) -> Chart:
    width = PERIOD_DAYS[freq]
    top = float(max(r["n_reviews"] for r in rows))
    frame = Frame(WIDTH, VOLUME_HEIGHT, lo, hi, top, **MARGINS)
    body = frame.axes(f"reviews per {freq}", "reviews", xticks=time_ticks(lo, hi),
                      yticks=[(0.0, "0"), (top, f"{top:,.0f}")])
    body += _marks(frame, events, alerts, labels=False)
    body += bars(frame, [(days(r["period_start"]), days(r["period_start"]) + width,
                          r["n_reviews"], f"{r['period_start']}: {r['n_reviews']:,} reviews")
                         for r in rows], BAR_COLOUR)
    return frame.chart(f"{name} review volume", body)


@dataclass
class _Section:
    product: Product
    anchor: str
    total: int | None
    charts: list[Chart]
    numbers: Table


def _anchor(product: Product) -> str:
    return "p-" + "".join(c if c.isalnum() else "-" for c in product.external_id)


def render_timeline_html(series: Series, observed: dict[int, list[dict]],
                         events: Sequence[EventMark] = (),
                         alerts: Sequence[AlertSpan] = ()) -> str:
    """The page for a ``Series`` (``asaas.timeline.series``): one section per product with
    its charts, a picker to jump between products, and the numbers in a table under each.

    ``observed`` maps product id to its label-only rows (product_timeline); the model rows come
    from ``series.table``. Events and alerts are matched to products by ``product_id``.
    """
    rows = series.table.dicts()
    sections = []
    for product in sorted(series.products, key=lambda p: (p.name or p.external_id).casefold()):
        mine_obs = observed.get(product.id, [])
        mine = [r for r in rows if r["product"] == product.external_id] if series.versions \
            else []
        if not mine_obs and not mine:
            continue
        charts = timeline_charts(product.name or product.external_id, series.freq, mine_obs,
                                 mine, [e for e in events if e.product_id == product.id],
                                 [a for a in alerts if a.product_id == product.id])
        shown = (Table(series.table.columns, [tuple(r.values()) for r in mine]) if mine
                 else Table(list(mine_obs[0]), [tuple(r.values()) for r in mine_obs]))
        shown = shown.select([c for c in TIMELINE_TABLE_COLUMNS if c in shown.columns])
        total = sum(r["n_reviews"] for r in mine_obs) if mine_obs else None
        sections.append(_Section(product, _anchor(product), total, charts, shown))
    if not sections:
        raise AsaasError("no reviews in the window for any of these products: nothing to draw")
    return render("timeline.html", page="asaas timeline", count_marks=True,
                  title=f"asaas timeline: {series.dataset} per {series.freq}",
                  models=", ".join(v.label for v in series.versions) or "none (labels only)",
                  dataset=series.dataset, language=series.language, sections=sections)


def write_timeline_html(store: Store, path: str | Path, series: Series,
                        offtopic: Sequence[tuple[int, Any, Any, str]] | None = None) -> Path:
    """Write the page for ``series``, with the products' events and alert periods
    (atomically); ``offtopic``: (product id, start, end, label) of periods an off-topic
    classifier marks (asaas.offtopic.timeline.offtopic_periods), shaded apart."""
    target = check_target(path)
    labels = read_series(store, series.products, dataset=series.dataset, freq=series.freq,
                         language=series.language, since=series.since, until=series.until)
    by_external = {p.external_id: p.id for p in series.products}
    observed: dict[int, list[dict]] = {}
    for r in labels.dicts():
        observed.setdefault(by_external[r["product"]], []).append(r)
    ids = [p.id for p in series.products]
    alerts = alerts_for(store, ids, dataset=series.dataset, since=series.since,
                        until=series.until)
    alerts += [AlertSpan(pid, start, end, label, "offtopic")
               for pid, start, end, label in (offtopic or ())]
    page = render_timeline_html(series, observed, events_for(store, ids), alerts)
    return write_page(target, page)
