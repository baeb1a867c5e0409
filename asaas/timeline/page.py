"""`asaas timeline --html`: per product, how negative its reviews are over time and when something
happened, in one self-contained page (template: ``templates/timeline.html``; charts:
``asaas.charts``).

The page answers one question first: how negative is this product's feedback, period by period?
So the labels' negative share is the one dark line (dots sized by the period's reviews, its 95%
band in grey), drawn across the page's width; the line breaks where a period has no labelled
review, rather than joining points a year apart. Models are secondary: one version at a time
(its corrected share with its band, raw share dashed), picked under the chart, none when the
reader wants the labels alone. Above the plot, one lane per alert kind marks each alert at its
exact days (a one-day bomb is a visible box, not a stripe lost in a shaded half-year) and one
lane names the events; in the plot, bursts are a narrow tint at their days and a shift is a
dashed line at its new level. Under it, review volume on an axis cut where the ordinary periods
stay readable (taller bars are marked with their count). The period length comes from the
series (``--freq``, or chosen for the product's volume: ``asaas.timeline.series.auto_freq``).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from asaas.charts import (Chart, Frame, Shape, band, bars, days, line, nice_max, px, rule, span,
                          text, time_ticks)
from asaas.errors import AsaasError
from asaas.pages import check_target, render, write_page
from asaas.store import Store
from asaas.tables import Table
from asaas.timeline.marks import AlertSpan, EventMark, alerts_for, events_for
from asaas.timeline.products import Product
from asaas.timeline.series import Series, next_period, read_series

#: Logical width of the charts: they scale to the page's width.
WIDTH = 1200
MARGIN = {"left": 78, "right": 18}
SHARE_PLOT, VOLUME_PLOT = 250, 80  # heights of the plot areas
TITLE, LANE, EVENT_ROW, AXIS = 26, 17, 13, 26
OBSERVED, OBSERVED_BAND, EVENT = "#1b1b1b", "#8a8a8a", "#4d4d4d"
BAR, BAR_CUT = "#9ecae1", "#3f7fb5"
#: Alert kinds, in lane order: colour and what the legend says.
KINDS = {
    "negative": ("#d62728", "negative: a day of unusually many negative reviews (a bomb)"),
    "volume": ("#ff7f0e", "volume: a burst of reviews without more negatives (launch, sale, "
                          "giveaway, positive bomb)"),
    "shift": ("#7b4fb0", "shift: the negative share rose and stayed (dashed: its new level)"),
}
#: Model colours: none of the alert kinds' reds, oranges or purples.
MODEL_COLOURS = ("#1f77b4", "#2ca02c", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
#: Periods with fewer labelled reviews do not set the share axis's top (one review of two
#: negative is 50%); their dots are small and drawn at the top edge when above it.
AXIS_MIN_LABELLED = 10
#: A period with fewer labelled reviews (fewer reviews, for a model) has no line or band through
#: it: its share is one hollow dot, too few reviews to say much.
MIN_LINE_REVIEWS = 5
#: A volume bar taller than this many times the upper quartile of the periods cuts the axis.
VOLUME_CUT = 4.0

#: Columns of the numbers under each product's charts (the rest: `asaas timeline --format csv`).
TIMELINE_TABLE_COLUMNS = ("period_start", "model", "n_reviews", "observed_negative_share",
                          "observed_ci_low", "observed_ci_high", "predicted_negative_share",
                          "corrected_negative_share", "corrected_ci_low", "corrected_ci_high",
                          "corrected_reason")
ALERT_TABLE_COLUMNS = ("alert_id", "kind", "start", "end", "days", "alert")


@dataclass
class Axis:
    """The periods of one product's charts, first to last, with none left out."""

    freq: str
    starts: list[date]

    @property
    def lo(self) -> float:
        return days(self.starts[0])

    @property
    def hi(self) -> float:
        return days(next_period(self.starts[-1], self.freq))

    def mid(self, start: date) -> float:
        return (days(start) + days(next_period(start, self.freq))) / 2

    def end(self, start: date) -> float:
        return days(next_period(start, self.freq))


def axis_of(freq: str, rows: Sequence[dict]) -> Axis:
    first = min(r["period_start"] for r in rows)
    last = max(r["period_start"] for r in rows)
    starts, at = [], first
    while at <= last:
        starts.append(at)
        at = next_period(at, freq)
    return Axis(freq, starts)


def _label_fit(taken: list[float], x0: float, x1: float) -> bool:
    """Whether a label from x0 to x1 fits after the labels already in the row."""
    return not taken or x0 > taken[-1] + 6


def _lanes(kinds: list[str], has_events: bool) -> dict[str, float]:
    """The top y of each lane above the plot: alert kinds, then the events' two label rows."""
    out, y = {}, TITLE
    for kind in kinds:
        out[kind] = y
        y += LANE
    if has_events:
        out["events"] = y
    return out


def _alert_marks(frame: Frame, alerts: Sequence[AlertSpan], lanes: dict[str, float], *,
                 in_plot: bool) -> list[Shape]:
    """Each alert as a box at its exact days in its kind's lane (at least 3 pixels wide, dated
    when there is room), and in the plot a narrow tint at its days (bursts) or a dashed line at
    its new level (shifts)."""
    out: list[Shape] = []
    dated: dict[str, float] = {}  # per lane: where the last date label ends
    starts = {kind: sorted(frame.x(days(a.start)) for a in alerts if a.kind == kind)
              for kind in KINDS}
    for a in sorted(alerts, key=lambda a: a.start):
        kind = a.kind if a.kind in KINDS else "negative"
        colour = KINDS[kind][0]
        lo, hi = days(a.start), days(a.end)
        if hi < frame.x_lo or lo > frame.x_hi:
            continue
        x0, x1 = frame.x(max(lo, frame.x_lo)), frame.x(min(hi, frame.x_hi))
        last = date.fromordinal(a.end.toordinal() - 1) if a.days > 1 else a.start.date()
        tip = (f"{kind} alert {a.alert_id or ''} {a.start:%Y-%m-%d}"
               + (f" to {last:%Y-%m-%d}" if a.days > 1 else "")
               + f" ({a.days} day{'s' if a.days != 1 else ''}): {a.label}")
        if kind in lanes:
            y = lanes[kind]
            width = max(x1 - x0, 3.0)
            out.append(Shape("rect", {"class": "alert", "data-kind": kind, "x": px(x0),
                                      "y": px(y + 3), "width": px(width), "height": LANE - 6,
                                      "fill": colour}, tip=tip))
            # Dated when the date fits before the lane's next alert and after the last date.
            label = f"{a.start:%Y-%m-%d}"
            at, ends = x0 + width + 3, x0 + width + 3 + 6.2 * len(label)
            following = [x for x in starts.get(kind, []) if x > x0 + width]
            if (at > dated.get(kind, -1e9) + 6 and ends < frame.right
                    and (not following or ends + 4 < following[0])):
                out.append(text(at, y + LANE - 5, label, size=10, fill=colour))
                dated[kind] = ends
        if not in_plot:
            continue
        if kind == "shift" and a.share is not None:
            y = frame.y(a.share)
            out.append(Shape("polyline", {"class": "alert-level", "points":
                                          f"{px(x0)},{px(y)} {px(x1)},{px(y)}", "stroke": colour,
                                          "stroke-width": 1.6, "stroke-dasharray": "7 4",
                                          "fill": "none"}, tip=tip))
            out.append(Shape("polyline", {"class": "alert-start", "points":
                                          f"{px(x0)},{frame.top} {px(x0)},{frame.bottom}",
                                          "stroke": colour, "stroke-opacity": 0.5,
                                          "fill": "none"}, tip=tip))
        elif kind != "shift":
            tint = span(frame, lo, hi, colour, 0.16, tip, cls="alert-days")
            if tint is not None:
                if float(tint.attrs["width"]) < 3:
                    tint = Shape("rect", {**tint.attrs, "width": 3,
                                          "x": px(frame.x((lo + hi) / 2) - 1.5)}, tip=tip)
                out.append(tint)
    return out


def _event_marks(frame: Frame, events: Sequence[EventMark], lane: float | None) -> list[Shape]:
    """Events as dashed lines through the plot and, when ``lane`` is given, their titles in the
    lane's two rows (a title that fits in neither is left to the tooltip)."""
    out: list[Shape] = []
    rows: list[list[float]] = [[], []]
    for e in events:
        at = days(e.at)
        tip = f"{e.at:%Y-%m-%d} {e.kind}: {e.title}" + (f" ({e.details})" if e.details else "")
        top = frame.top if lane is None else lane + 2
        mark = rule(frame, at, EVENT, tip, cls="event" if lane is not None else "event-line")
        if mark is None:
            continue
        x = frame.x(at)
        line_shape = mark.children[0]
        mark = Shape("g", mark.attrs, tip=tip, children=(Shape("polyline", {
            **line_shape.attrs, "points": f"{px(x)},{px(top)} {px(x)},{frame.bottom}"}),))
        out.append(mark)
        if lane is None:
            continue
        title = e.title if len(e.title) <= 48 else e.title[:47] + "…"
        x1 = x + 4 + 6 * len(title)
        for k, row in enumerate(rows):
            if _label_fit(row, x, x1) and x1 < frame.width:
                out.append(Shape("text", {"x": px(x + 4), "y": px(lane + 11 + EVENT_ROW * k),
                                          "font-size": 10, "fill": EVENT}, text=title, tip=tip))
                row.append(x1)
                break
    return out


def share_ticks(top: float) -> list[tuple[float, str]]:
    """Ticks of a share axis from 0 to ``top`` at a round step (5% steps up to 30%...)."""
    step = next(s for s in (0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5)
                if top / s <= 6.0001)
    count = int(round(top / step))
    return [(k * step, f"{100 * k * step:g}%") for k in range(count + 1)]


def _dot_radius(n: int) -> float:
    """A period's dot grows with its labelled reviews: a share of 2 reviews reads as small."""
    return min(5.0, max(1.5, 1.2 + math.sqrt(max(n, 0)) / 3))


def share_chart(name: str, axis: Axis, observed: list[dict], models: dict[str, list[dict]],
                events: Sequence[EventMark] = (), alerts: Sequence[AlertSpan] = ()) -> Chart:
    """The negative share per period: the labels' (line, dots, band) first; each model version
    in its own group ``model model-I`` (the page shows one at a time); alert lanes and event
    titles above the plot."""
    kinds = [k for k in KINDS if any((a.kind if a.kind in KINDS else "negative") == k
                                     for a in alerts)]
    lanes_height = LANE * len(kinds) + (2 * EVENT_ROW + 4 if events else 0)
    top = TITLE + lanes_height + 6
    estimates = [r["observed_negative_share"] for r in observed
                 if r["observed_negative_share"] is not None
                 and (r["n_labelled"] or 0) >= AXIS_MIN_LABELLED]
    if not estimates:  # no period big enough to trust: all of them, then the models'
        estimates = [r["observed_negative_share"] or 0.0 for r in observed] + [
            r[c] or 0.0 for rows in models.values() for r in rows
            for c in ("corrected_negative_share", "predicted_negative_share")]
    y_max = nice_max(1.15 * max([0.02, *estimates]))
    frame = Frame(WIDTH, top + SHARE_PLOT + AXIS, axis.lo, axis.hi, y_max, top=top,
                  bottom=AXIS, **MARGIN)
    shapes = frame.axes(f"{name}: negative share per {axis.freq}", "negative share",
                        xticks=time_ticks(axis.lo, axis.hi, most=12), yticks=share_ticks(y_max))
    lanes = _lanes(kinds, bool(events))
    for kind in kinds:
        shapes.append(text(frame.left - 6, lanes[kind] + LANE - 5, kind, size=10, anchor="end",
                           fill=KINDS[kind][0]))
    if events:
        shapes.append(text(frame.left - 6, lanes["events"] + 11, "events", size=10,
                           anchor="end", fill=EVENT))
    shapes += _alert_marks(frame, alerts, lanes, in_plot=True)
    shapes += _event_marks(frame, events, lanes.get("events"))
    by_start = {r["period_start"]: r for r in observed
                if (r["n_labelled"] or 0) >= MIN_LINE_REVIEWS}
    filled = [(axis.mid(s), by_start.get(s)) for s in axis.starts]
    for i, (model, rows) in enumerate(models.items()):
        colour = MODEL_COLOURS[i % len(MODEL_COLOURS)]
        mine = {r["period_start"]: r for r in rows if r["n_reviews"] >= MIN_LINE_REVIEWS}
        pts = [(axis.mid(s), mine.get(s)) for s in axis.starts]
        body = band(frame, [(x, r and r["corrected_ci_low"], r and r["corrected_ci_high"])
                            for x, r in pts], colour, f"{model} corrected, 95% interval", 0.13)
        body += line(frame, [(x, r and r["predicted_negative_share"]) for x, r in pts], colour,
                     f"{model} raw (classify and count)", dash="4 3")
        body += line(frame, [(x, r and r["corrected_negative_share"]) for x, r in pts], colour,
                     f"{model} corrected")
        shapes.append(Shape("g", {"class": f"model model-{i}"}, children=tuple(body)))
    shapes += band(frame, [(x, r and r["observed_ci_low"], r and r["observed_ci_high"])
                           for x, r in filled], OBSERVED_BAND, "labels, 95% interval", 0.28)
    shapes += line(frame, [(x, r and r["observed_negative_share"]) for x, r in filled],
                   OBSERVED, "negative share from the labels")
    if len(axis.starts) <= 400:
        for r in observed:
            share, n = r["observed_negative_share"], r["n_labelled"] or 0
            if share is None:
                continue
            tip = (f"{r['period_start']}: {share:.1%} negative of {n:,} labelled review"
                   f"{'s' if n != 1 else ''} (95% interval {r['observed_ci_low']:.1%} to "
                   f"{r['observed_ci_high']:.1%})")
            sparse = n < MIN_LINE_REVIEWS
            cls, fill = ("dot sparse", "#fff") if sparse else ("dot", OBSERVED)
            x = frame.x(axis.mid(r["period_start"]))
            if share > y_max:  # above the axis: a triangle at its top edge, pointing up
                top = frame.top
                shapes.append(Shape("polygon", {
                    "class": cls, "points": f"{px(x - 3.5)},{px(top + 6)} {px(x + 3.5)},"
                    f"{px(top + 6)} {px(x)},{px(top)}", "fill": fill, "stroke": OBSERVED},
                    tip=tip + " (above the axis)"))
                continue
            shapes.append(Shape("circle", {"class": cls, "cx": px(x), "cy": px(frame.y(share)),
                                           "r": px(2.2 if sparse else _dot_radius(n)),
                                           "fill": fill, "stroke": OBSERVED, "stroke-width": 1},
                                tip=tip))
    return frame.chart(f"{name} negative share", shapes, responsive=True)


def volume_cut(counts: Sequence[int]) -> float | None:
    """Where the volume axis is cut so that ordinary periods stay readable: None when no bar is
    taller than ``VOLUME_CUT`` times the upper quartile of the periods with reviews; else the
    round number at or above the tallest other bar (and twice that quartile), so that only
    those outliers reach past it."""
    busy = sorted(n for n in counts if n > 0)
    if not busy:
        return None
    usual = max(busy[int(0.75 * (len(busy) - 1))], 1)
    ordinary = [n for n in busy if n <= VOLUME_CUT * usual]
    if len(ordinary) == len(busy):
        return None
    return round_up(max(ordinary[-1], 2 * usual))


def count_step(top: float) -> float:
    """A round step for a count axis from 0 to ``top`` (2 to 5 intervals), else ``top``."""
    for parts in (2, 3, 4, 5):
        step = top / parts
        if step == int(step) and round_up(step) == step:
            return step
    return top


def round_up(value: float) -> float:
    """The round number (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten) at or above
    ``value``."""
    magnitude = 10 ** math.floor(math.log10(max(value, 1)))
    return float(next(m * magnitude for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
                      if m * magnitude >= value))


def volume_chart(name: str, axis: Axis, rows: list[dict], events: Sequence[EventMark] = (),
                 alerts: Sequence[AlertSpan] = ()) -> tuple[Chart, str]:
    """Reviews per period, on an axis cut by ``volume_cut`` (taller bars reach the top, darker,
    with their count above), and a line that says how the axis is drawn."""
    counts = [int(r["n_reviews"]) for r in rows]
    cut = volume_cut(counts)
    top = cut or round_up(max(counts + [1]))
    frame = Frame(WIDTH, TITLE + 12 + VOLUME_PLOT + AXIS, axis.lo, axis.hi, top,
                  top=TITLE + 12, bottom=AXIS, **MARGIN)
    ticks = [(k * step, f"{k * step:,.0f}") for step in [count_step(top)]
             for k in range(int(top // step) + 1)]
    title = f"reviews per {axis.freq}" + (f" (axis cut at {top:,.0f})" if cut else "")
    shapes = frame.axes(title, "reviews", xticks=time_ticks(axis.lo, axis.hi, most=12),
                        yticks=ticks)
    normal = [(days(r["period_start"]), axis.end(r["period_start"]), r["n_reviews"],
               f"{r['period_start']}: {r['n_reviews']:,} reviews") for r in rows
              if not cut or r["n_reviews"] <= cut]
    tall = [(days(r["period_start"]), axis.end(r["period_start"]), r["n_reviews"],
             f"{r['period_start']}: {r['n_reviews']:,} reviews (above the cut)") for r in rows
            if cut and r["n_reviews"] > cut]
    shapes += bars(frame, normal, BAR)
    shapes += bars(frame, tall, BAR_CUT)
    # Over the bars: a burst's tint shows on the tallest bar too.
    shapes += _alert_marks(frame, [a for a in alerts if a.kind != "shift"], {}, in_plot=True)
    shapes += _event_marks(frame, events, None)
    for x0, x1, n, _ in tall:
        shapes.append(text((frame.x(x0) + frame.x(x1)) / 2, frame.top - 3, f"{n:,}", size=10,
                           anchor="middle", fill=BAR_CUT))
    note = ""
    if cut:
        note = (f"The volume axis is cut at {top:,.0f} reviews so that the ordinary "
                f"{axis.freq}s stay readable; {len(tall)} taller {axis.freq}"
                f"{'s are' if len(tall) != 1 else ' is'} drawn darker, with the count above.")
    return frame.chart(f"{name} review volume", shapes, responsive=True), note


@dataclass
class ModelKey:
    label: str
    colour: str


@dataclass
class _Section:
    product: Product
    anchor: str
    summary: str
    share: Chart
    volume: Chart
    volume_note: str
    models: list[ModelKey]
    kinds: list[tuple[str, str, str]]  # kind, colour, words
    has_events: bool
    alerts: Table
    numbers: Table


def _anchor(product: Product) -> str:
    return "p-" + "".join(c if c.isalnum() else "-" for c in product.external_id)


def _summary(axis: Axis, observed: list[dict], volume_rows: list[dict],
             alerts: Sequence[AlertSpan], events: Sequence[EventMark]) -> str:
    total = sum(r["n_reviews"] for r in volume_rows)
    labelled = sum(r["n_labelled"] or 0 for r in observed)
    negative = sum(round((r["observed_negative_share"] or 0) * (r["n_labelled"] or 0))
                   for r in observed)
    parts = [f"{total:,} reviews in {len(axis.starts)} {axis.freq}s from "
             f"{axis.starts[0]:%Y-%m-%d}"]
    if labelled:
        parts.append(f"{negative / labelled:.1%} of the {labelled:,} labelled ones negative")
    found = {k: sum(1 for a in alerts if a.kind == k) for k in KINDS}
    if any(found.values()):
        parts.append("alerts: " + ", ".join(f"{n} {k}" for k, n in found.items() if n))
    if events:
        parts.append(f"{len(events)} event{'s' if len(events) != 1 else ''}")
    return "; ".join(parts) + "."


def _alerts_table(alerts: Sequence[AlertSpan]) -> Table:
    return Table(list(ALERT_TABLE_COLUMNS), [
        (a.alert_id, a.kind, a.start.date(), date.fromordinal(a.end.toordinal() - 1), a.days,
         a.label) for a in alerts])


def render_timeline_html(series: Series, observed: dict[int, list[dict]],
                         events: Sequence[EventMark] = (),
                         alerts: Sequence[AlertSpan] = ()) -> str:
    """The page for a ``Series`` (``asaas.timeline.series``): one section per product with
    its charts, a picker to jump between products, and the numbers in a table under each.

    ``observed`` maps product id to its label-only rows (product_timeline); the model rows come
    from ``series.table``. Events and alerts are matched to products by ``product_id``.
    """
    rows = series.table.dicts() if series.versions else []
    labels = [v.label for v in series.versions]
    sections = []
    for product in sorted(series.products, key=lambda p: (p.name or p.external_id).casefold()):
        mine_obs = observed.get(product.id, [])
        mine = [r for r in rows if r["product"] == product.external_id]
        if not mine_obs and not mine:
            continue
        by_model: dict[str, list[dict]] = {label: [] for label in labels}
        for r in mine:
            by_model.setdefault(r["model"], []).append(r)
        by_model = {k: v for k, v in by_model.items() if v}
        name = product.name or product.external_id
        axis = axis_of(series.freq, mine_obs + mine)
        my_events = [e for e in events if e.product_id == product.id]
        my_alerts = [a for a in alerts if a.product_id == product.id]
        # The volume of the labels' series (every review); without labels, the first model's.
        volume_rows = mine_obs or next(iter(by_model.values()))
        share = share_chart(name, axis, mine_obs, by_model, my_events, my_alerts)
        volume, note = volume_chart(name, axis, volume_rows, my_events, my_alerts)
        numbers = (Table(series.table.columns, [tuple(r.values()) for r in mine]) if mine
                   else Table(list(mine_obs[0]), [tuple(r.values()) for r in mine_obs]))
        numbers = numbers.select([c for c in TIMELINE_TABLE_COLUMNS if c in numbers.columns])
        kinds = [(k, *KINDS[k]) for k in KINDS if any(a.kind == k for a in my_alerts)]
        sections.append(_Section(
            product, _anchor(product), _summary(axis, mine_obs, volume_rows, my_alerts,
                                                my_events),
            share, volume, note, [ModelKey(m, MODEL_COLOURS[i % len(MODEL_COLOURS)])
                                  for i, m in enumerate(by_model)],
            kinds, bool(my_events), _alerts_table(my_alerts), numbers))
    if not sections:
        raise AsaasError("no reviews in the window for any of these products: nothing to draw")
    return render("timeline.html", page="asaas timeline", count_marks=True,
                  title=f"asaas timeline: {series.dataset} per {series.freq}",
                  models=", ".join(labels) or "none (labels only)",
                  freq=series.freq, freq_reason=series.freq_reason, observed=OBSERVED,
                  observed_band=OBSERVED_BAND, event_colour=EVENT, min_line=MIN_LINE_REVIEWS,
                  n_models=max((len(s.models) for s in sections), default=0),
                  dataset=series.dataset, dataset_arg=shlex.quote(series.dataset),
                  language=series.language, sections=sections)


def write_timeline_html(store: Store, path: str | Path, series: Series) -> Path:
    """Write the page for ``series``, with the products' events and alerts (atomically)."""
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
    page = render_timeline_html(series, observed, events_for(store, ids), alerts)
    return write_page(target, page)

