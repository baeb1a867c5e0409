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
from asaas.timeline.spikes import DailyFlags, daily_alerts, daily_flags, platform_days


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
    missing). Every product's volume flags count for the platform rule; alerts are returned for
    ``product_ids`` (all when None), ordered by product then start."""
    rule = (rule or AlertRule()).check()
    flags: dict[int, DailyFlags] = {}
    for pid, rows in counts.groupby("product_id", sort=True):
        days = fill_days(rows)
        if len(days):
            flags[int(pid)] = daily_flags(days, rule)
    platform = platform_days(flags, rule) if "volume" in rule.kinds else set()
    wanted = set(flags) if product_ids is None else {int(p) for p in product_ids}
    alerts: list[Alert] = []
    for pid in sorted(wanted & set(flags)):
        product = products.get(pid) or Product(pid, "?", str(pid), None)
        found = []
        if "negative" in rule.kinds or "volume" in rule.kinds:
            found += daily_alerts(product, flags[pid], platform, rule, source)
        if "shift" in rule.kinds:
            # Bursts are the daily rule's; a shift is what remains without them.
            calm = flags[pid].days.copy()
            calm.loc[flags[pid].negative, ["n", "neg"]] = 0
            found += shift_alerts(product, calm, rule, source)
        alerts += sorted(found, key=lambda a: (a.start, a.kind))
    return Detection(alerts, sorted(d.date() for d in platform), rule, source)


def detect(store: Store, product_id: int | None = None, *, product: str | None = None,
           source: str | None = None, dataset: str | None = None,
           rule: AlertRule | None = None, since: Any = None, until: Any = None) -> Detection:
    """Alerts of every product (or of one: ``product_id``, or ``product`` by external id or
    name) on the labels or a model's predictions (``source``: labels, MODEL or MODEL:VERSION),
    overlapping [since, until] when given.

    One call covers all products at about the cost of one (the platform rule needs them all
    anyway): callers that draw many products should call once and group by ``product_id``."""
    rule = (rule or AlertRule()).check()
    src: SeriesSource = resolve_source(store, source)
    if product is not None:
        product_id = find_product(store, product, dataset=dataset).id
    counts = daily_counts(store, src, dataset=dataset)
    found = detect_frame(counts, products_by_id(store), rule, source=src.label,
                         product_ids=None if product_id is None else [product_id])
    lo = _as_date(since) if since is not None else None
    hi = _as_date(until) if until is not None else None
    found.alerts = [a for a in found.alerts
                    if (lo is None or a.end >= lo) and (hi is None or a.start <= hi)]
    return found


def alerts_by_product(store: Store, product_ids: Sequence[int] | None = None, *,
                      source: str | None = None, dataset: str | None = None,
                      rule: AlertRule | None = None) -> dict[int, list[Alert]]:
    """Alerts grouped by product id, from one detection over every product (for pages that draw
    many products): {product_id: [alerts by start]}; products without alerts are absent."""
    found = detect(store, source=source, dataset=dataset, rule=rule)
    wanted = None if product_ids is None else {int(p) for p in product_ids}
    out: dict[int, list[Alert]] = {}
    for alert in found.alerts:
        if wanted is None or alert.product_id in wanted:
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
    """The alert ``KIND:PRODUCT:YYYY-MM-DD`` names (any alert of that kind and product whose
    period contains the day, so an id stays usable while a period grows)."""
    kind, ref, day = parse_alert_id(alert_id)
    prod = find_product(store, ref, dataset=dataset)
    rule = rule or AlertRule()
    found = detect(store, prod.id, source=source, dataset=dataset,
                   rule=replace(rule, kinds=tuple(dict.fromkeys((*rule.kinds, kind)))))
    for alert in found.alerts:
        if alert.kind == kind and alert.start <= day <= alert.end:
            return alert
    raise AlertError(f"no {kind} alert of {prod.label} on {day} with these settings "
                     f"({found.source}); `asaas alerts {ref}` lists its alerts")
