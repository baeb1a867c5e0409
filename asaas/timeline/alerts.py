"""Alerts: review bombs and sudden shifts in a product's feedback, found over every product.

Steam answers review bombs with a histogram and a manual "off-topic" flag. These alerts name the
period, its size against the product's own baseline, and show the reviews and words behind it
(``asaas.timeline.explain``). They run on the labels or on a model's predictions (``source``),
so unlabelled feedback gets alerts too.

The rules (every number in ``asaas.timeline.rules.AlertRule``, all options of ``asaas alerts``):
the daily ``negative`` and ``volume`` rules and platform days in ``asaas.timeline.spikes``, the
weekly change points (``shift``) in ``asaas.timeline.changepoints``. This module runs them over
the daily series of every product (the platform rule needs them all) and looks alerts up by id.

Alerts are computed on demand, not stored: they are a pure function of the reviews (or
predictions) and the rule, so a stored copy could only go stale. Their ids are
``KIND:PRODUCT:START`` (``negative:433950:2017-09-12``), the same for the same data and rule.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pandas as pd

from asaas.store import Store
from asaas.tables import Table
from asaas.timeline.changepoints import shift_alerts
from asaas.timeline.daily import SeriesSource, daily_counts, fill_days, resolve_source
from asaas.timeline.events import parse_time
from asaas.timeline.products import Product, find_product, products_by_id
from asaas.timeline.rules import Alert, AlertError, AlertRule, parse_alert_id
from asaas.timeline.spikes import (DailyFlags, daily_flags, negative_alerts, platform_days,
                                   volume_alerts)


@dataclass
class Detection:
    alerts: list[Alert]
    platform_days: list[date] = field(default_factory=list)
    rule: AlertRule = field(default_factory=AlertRule)
    source: str = "labels"


def detect_frame(counts: pd.DataFrame, products: dict[int, Product], rule: AlertRule | None = None,
                 *, source: str = "labels", product_ids: Sequence[int] | None = None
                 ) -> Detection:
    """Alerts from daily counts (columns product_id, day, n, neg; days without reviews may be
    missing), for ``product_ids`` (all when None), ordered by product then start.

    Each kind is found by its own rule on the same flags, so asking for fewer kinds only leaves
    kinds out: an alert's id, days and numbers never depend on ``rule.kinds``. Only the volume
    rule looks at other products (platform days), so only it reads every product's flags; the
    rules of the products asked for, change points included, run for those alone."""
    rule = (rule or AlertRule()).check()
    series = {int(pid): days for pid, rows in counts.groupby("product_id", sort=True)
              if len(days := fill_days(rows))}
    wanted = sorted(set(series) if product_ids is None
                    else {int(p) for p in product_ids} & set(series))
    flags: dict[int, DailyFlags] = {}
    platform: set[pd.Timestamp] = set()
    if "volume" in rule.kinds:
        flags = {pid: daily_flags(days, rule) for pid, days in series.items()}
        platform = platform_days(flags, rule)
    alerts: list[Alert] = []
    for pid in wanted:
        product = products.get(pid) or Product(pid, "?", str(pid), None)
        mine = flags.get(pid) or daily_flags(series[pid], rule)
        found = []
        if "negative" in rule.kinds:
            found += negative_alerts(product, mine, rule, source)
        if "volume" in rule.kinds:
            found += volume_alerts(product, mine, platform, rule, source)
        if "shift" in rule.kinds:
            # Bursts are the daily rule's; a shift is what remains without them.
            calm = mine.days.copy()
            calm.loc[mine.negative, ["n", "neg"]] = 0
            found += shift_alerts(product, calm, rule, source)
        alerts += sorted(found, key=lambda a: (a.start, a.kind))
    return Detection(alerts, sorted(d.date() for d in platform), rule, source)


def detect(store: Store, product_id: int | None = None, *, product: str | None = None,
           product_ids: Sequence[int] | None = None, source: str | None = None,
           dataset: str | None = None, rule: AlertRule | None = None, since: Any = None,
           until: Any = None) -> Detection:
    """Alerts of every product (or of some: ``product_id``, ``product_ids``, or ``product`` by
    external id or name) on the labels or a model's predictions (``source``: labels, MODEL or
    MODEL:VERSION), overlapping [since, until] when given.

    Ask for the products you will show: the daily rules of every product run anyway (the
    platform rule needs them, at a few milliseconds each), but the change points (``shift``)
    cost about 0.1 s a product and run only for the products asked for."""
    rule = (rule or AlertRule()).check()
    src: SeriesSource = resolve_source(store, source)
    if product is not None:
        product_id = find_product(store, product, dataset=dataset).id
    wanted = list(product_ids) if product_ids is not None else None
    if product_id is not None:
        wanted = [*(wanted or []), product_id]
    counts = daily_counts(store, src, dataset=dataset)
    found = detect_frame(counts, products_by_id(store), rule, source=src.label,
                         product_ids=wanted)
    lo = _as_date(since) if since is not None else None
    hi = _as_date(until) if until is not None else None
    found.alerts = [a for a in found.alerts
                    if (lo is None or a.end >= lo) and (hi is None or a.start <= hi)]
    return found


def alerts_by_product(store: Store, product_ids: Sequence[int] | None = None, *,
                      source: str | None = None, dataset: str | None = None,
                      rule: AlertRule | None = None) -> dict[int, list[Alert]]:
    """Alerts grouped by product id, from one detection (for pages that draw many products):
    {product_id: [alerts by start]}; products without alerts are absent."""
    found = detect(store, product_ids=product_ids, source=source, dataset=dataset, rule=rule)
    out: dict[int, list[Alert]] = {}
    for alert in found.alerts:
        out.setdefault(alert.product_id, []).append(alert)
    return out


def _as_date(value: Any) -> date:
    return parse_time(value).date()


ALERT_COLUMNS = ["alert_id", "product", "name", "kind", "start", "end", "days", "n_reviews",
                 "n_negative", "expected_negative", "share", "baseline_share", "peak_day",
                 "peak_reviews", "peak_negative", "source"]


def alerts_table(alerts: Sequence[Alert]) -> Table:
    return Table(list(ALERT_COLUMNS), [
        (a.id, a.product, a.name, a.kind, a.start, a.end, a.days, a.n_reviews, a.n_negative,
         round(a.expected_negative, 2), a.share, a.baseline_share, a.peak_day, a.peak_reviews,
         a.peak_negative, a.source) for a in alerts])


def find_alert(store: Store, alert_id: str, *, source: str | None = None,
               dataset: str | None = None, rule: AlertRule | None = None) -> Alert:
    """The alert ``KIND:PRODUCT:YYYY-MM-DD`` names: the one of that kind and product starting
    that day, as ``asaas alerts list`` printed it (whatever kinds either was asked for), else
    the one whose period holds the day (an id stays usable while new reviews grow a period)."""
    kind, ref, day = parse_alert_id(alert_id)
    prod = find_product(store, ref, dataset=dataset)
    rule = replace(rule or AlertRule(), kinds=(kind,))  # the kind's alerts never need others
    found = detect(store, prod.id, source=source, dataset=dataset, rule=rule)
    mine = [a for a in found.alerts if a.kind == kind]
    for alert in [a for a in mine if a.start == day] + [a for a in mine
                                                        if a.start <= day <= a.end]:
        return alert
    listing = f"asaas alerts list {shlex.quote(ref)} --kind {kind}"
    raise AlertError(f"no {kind} alert of {prod.label} on {day} with these settings "
                     f"({found.source}); `{listing}` lists them")
