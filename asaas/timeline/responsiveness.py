"""Responsiveness: does the company answer its unhappy customers, how fast, and how fast does a
bad period pass?

Per product (the ``product_responses`` view, ``sql/125_product_responses.sql``):

- the share of negative reviews that got a developer response, with its 95% Wilson interval;
- the median hours from a negative review to its response (Steam stores the response's latest
  edit time, so an answer edited later counts as slower than it was).

Per incident, an alert (``negative`` or ``shift``; a ``volume`` alert is not a bad period) or a
negative event (an event after which the negative share rose significantly, see
``asaas.timeline.effects``):

- the baseline interval: the 95% Wilson interval of the negative share the incident departed
  from (the ``baseline_days`` before a daily alert, the previous segment before a shift, the
  ``window_days`` before an event's day);
- recovery: the first 7-day window that starts after the incident (after an alert's last day, or
  an event's day) with at least ``min_window_reviews`` reviews and a negative share at or below
  the baseline interval's upper end. ``recovery_days`` counts from the incident's first day to
  that window's last day. No such window within ``horizon_days``: "not recovered"; the data ends
  first: "not recovered (data ends)".

One table ranks the products: highest share of negative reviews answered first, then the fastest
median response, then the fastest median recovery.

Did answering help? (``answers``; the views ``review_flips`` and ``product_flips``,
``sql/126_review_flips.sql``), from the change history ingest keeps (issue 19): of the reviews
negative when first seen, the share whose authors later turned positive among those answered
while negative, against the same share among the others, with the difference and its 95%
interval (Newcombe's hybrid score interval); and the median hours from such a review to its first
answer, with their count. Negative means the author's own recommendation (the labels), whatever
``--source`` says: a turn is the author's doing. A turn is seen only when two copies of a review
were ingested (a fetch, a later export); one snapshot shows none, only reviews positive now and
edited after the answer (``edited_after_answer``: they may have turned, or been positive all
along).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from asaas.store import Store
from asaas.tables import Table, query
from asaas.timeline.alerts import detect_frame
from asaas.timeline.daily import daily_counts, fill_days, resolve_source
from asaas.timeline.effects import effect_of
from asaas.timeline.events import list_events
from asaas.timeline.intervals import share_difference, wilson_interval
from asaas.timeline.products import Product, find_product, products_by_id
from asaas.timeline.rules import AlertError, AlertRule

RECOVERY_WINDOW_DAYS = 7


@dataclass(frozen=True)
class Recovery:
    product_id: int
    product: str
    name: str | None
    incident: str  # alert id, or "event N"
    kind: str  # the alert's kind, or the event's
    start: date
    end: date
    baseline_share: float | None
    baseline_ci_high: float | None
    recovered_on: date | None
    recovery_days: int | None
    status: str  # recovered | not recovered | not recovered (data ends) | no baseline


def recovery(days: pd.DataFrame, start: date, end: date, baseline: tuple[int, int], *,
             horizon_days: int = 182, min_window_reviews: int = 5
             ) -> tuple[float | None, float | None, date | None, int | None, str]:
    """(baseline share, its upper 95% bound, recovered on, days, status) of one incident on a
    filled daily series ``days``, given the baseline's (reviews, negatives); see the module
    docstring."""
    idx = days.index
    n_base, k_base = baseline
    if n_base == 0:
        return None, None, None, None, "no baseline"
    share = k_base / n_base
    _, high = wilson_interval(k_base, n_base)
    n = days["n"].to_numpy()
    k = days["neg"].to_numpy()
    first = pd.Timestamp(end) + pd.Timedelta(days=1)
    last_start = pd.Timestamp(start) + pd.Timedelta(days=horizon_days - RECOVERY_WINDOW_DAYS)
    pos = int(idx.searchsorted(first))
    while pos < len(idx) and idx[pos] <= last_start:
        stop = pos + RECOVERY_WINDOW_DAYS
        if stop > len(idx):
            break
        wn, wk = int(n[pos:stop].sum()), int(k[pos:stop].sum())
        if wn >= min_window_reviews and wk / wn <= high:
            on = idx[stop - 1].date()
            return share, high, on, (on - start).days + 1, "recovered"
        pos += 1
    ended = len(idx) == 0 or idx[-1] < last_start + pd.Timedelta(days=RECOVERY_WINDOW_DAYS - 1)
    return share, high, None, None, "not recovered (data ends)" if ended else "not recovered"


def recoveries(store: Store, product: str | None = None, *, source: str | None = None,
               dataset: str | None = None, rule: AlertRule | None = None,
               window_days: int = 30, horizon_days: int = 182, min_window_reviews: int = 5
               ) -> list[Recovery]:
    """Recovery after every negative/shift alert and every negative event."""
    if horizon_days < RECOVERY_WINDOW_DAYS or min_window_reviews < 1 or window_days < 1:
        raise AlertError(f"--horizon-days must be at least {RECOVERY_WINDOW_DAYS}, "
                         "--min-window-reviews and --window-days at least 1")
    rule = replace(rule or AlertRule(), kinds=("negative", "shift")).check()
    src = resolve_source(store, source)
    pid = find_product(store, product, dataset=dataset).id if product is not None else None
    counts = daily_counts(store, src, dataset=dataset)
    names = products_by_id(store)
    detection = detect_frame(counts, names, rule, source=src.label,
                             product_ids=None if pid is None else [pid])
    series = {int(p): fill_days(rows) for p, rows in counts.groupby("product_id")}
    out: list[Recovery] = []
    for alert in detection.alerts:
        days = series[alert.product_id]
        share, high, on, took, status = recovery(
            days, alert.start, alert.end, (alert.baseline_reviews, alert.baseline_negative),
                                                 horizon_days=horizon_days,
                                                 min_window_reviews=min_window_reviews)
        out.append(Recovery(alert.product_id, alert.product, alert.name, alert.id, alert.kind,
                            alert.start, alert.end, share, high, on, took, status))
    for event in list_events(store, pid):
        days = series.get(event.product_id)
        if days is None or not len(days):
            continue
        effect = effect_of(event, days, source=src.label, window_days=window_days)
        if not (effect.diff_significant and (effect.diff or 0) > 0):
            continue
        day = event.occurred_at.date()
        share, high, on, took, status = recovery(days, day, day,
                                                 (effect.n_before, effect.neg_before),
                                                 horizon_days=horizon_days,
                                                 min_window_reviews=min_window_reviews)
        out.append(Recovery(event.product_id, event.product, event.product_name,
                            f"event {event.id}", event.kind, day, day, share, high, on, took,
                            status))
    return sorted(out, key=lambda r: (r.product_id, r.start, r.incident))


RECOVERY_COLUMNS = ["product", "name", "incident", "kind", "start", "end", "baseline_share",
                    "baseline_ci_high", "recovered_on", "recovery_days", "status"]


def recoveries_table(items: Sequence[Recovery]) -> Table:
    return Table(list(RECOVERY_COLUMNS), [
        (r.product, r.name, r.incident, r.kind, r.start, r.end, r.baseline_share,
         r.baseline_ci_high, r.recovered_on, r.recovery_days, r.status) for r in items])


RANKING_COLUMNS = [
    "rank", "product", "name", "n_reviews", "n_negative", "negative_responded",
    "responded_share", "responded_ci_low", "responded_ci_high", "median_response_hours",
    "incidents", "recovered", "not_recovered", "median_recovery_days",
]


def _response_rows(store: Store, source_kind: str, model_version_id: int | None,
                   dataset: str | None) -> pd.DataFrame:
    where = ["source = :source"]
    params: dict[str, Any] = {"source": source_kind}
    if model_version_id is not None:
        where.append("model_version_id = :mv")
        params["mv"] = model_version_id
    if dataset is not None:
        where.append("dataset = :dataset")
        params["dataset"] = dataset
    sql = ("SELECT product_id, dataset, n_reviews, n_negative, n_negative_responded, "
           "median_negative_response_hours FROM product_responses "
           f"WHERE {' AND '.join(where)} ORDER BY product_id, dataset")
    return pd.DataFrame(query(store, sql, params).rows, columns=[
        "product_id", "dataset", "n_reviews", "n_negative", "n_negative_responded",
        "median_hours"])


def ranking(store: Store, product: str | None = None, *, source: str | None = None,
            dataset: str | None = None, rule: AlertRule | None = None, window_days: int = 30,
            horizon_days: int = 182, min_window_reviews: int = 5,
            items: Sequence[Recovery] | None = None) -> Table:
    """One row per product, ranked (see the module docstring)."""
    src = resolve_source(store, source)
    rows = _response_rows(store, src.kind, src.model_version_id, dataset)
    pid = find_product(store, product, dataset=dataset).id if product is not None else None
    if pid is not None:
        rows = rows[rows["product_id"] == pid]
    repeated = rows["product_id"].duplicated()
    if repeated.any():
        shared = rows.loc[repeated, "product_id"].iloc[0]
        raise AlertError(f"product {shared} has reviews in several datasets "
                         f"({', '.join(sorted(set(rows['dataset'])))}); pick one with --dataset")
    if items is None:
        items = recoveries(store, product, source=source, dataset=dataset, rule=rule,
                           window_days=window_days, horizon_days=horizon_days,
                           min_window_reviews=min_window_reviews)
    names: dict[int, Product] = products_by_id(store)
    by_product: dict[int, list[Recovery]] = {}
    for r in items:
        by_product.setdefault(r.product_id, []).append(r)
    table = []
    for row in rows.itertuples():
        p = names[int(row.product_id)]
        k, n = int(row.n_negative_responded), int(row.n_negative)
        lo, hi = wilson_interval(k, n)
        mine = by_product.get(int(row.product_id), [])
        took = [r.recovery_days for r in mine if r.recovery_days is not None]
        table.append([
            None, p.external_id, p.name, int(row.n_reviews), n, k, k / n if n else None, lo, hi,
            None if pd.isna(row.median_hours) else float(row.median_hours), len(mine),
            len(took), sum(1 for r in mine if r.status.startswith("not recovered")),
            float(np.median(took)) if took else None])

    def key(r: list[Any]) -> tuple:
        share, hours, rec = r[6], r[9], r[13]
        return (share is None, -(share or 0.0), hours is None, hours or 0.0, rec is None,
                rec or 0.0, r[1])

    table.sort(key=key)
    for i, r in enumerate(table, start=1):
        r[0] = i
    return Table(list(RANKING_COLUMNS), [tuple(r) for r in table])


ANSWER_COLUMNS = [
    "product", "name", "negative_first", "answered", "answered_turned", "answered_turned_share",
    "unanswered", "unanswered_turned", "unanswered_turned_share", "turned_diff",
    "turned_diff_ci_low", "turned_diff_ci_high", "median_hours_to_answer", "edited_after_answer",
    "reviews_changed",
]


def answers(store: Store, product: str | None = None, *, dataset: str | None = None) -> Table:
    """Did answering help? One row per product with reviews negative when first seen (see the
    module docstring); the products with the most answered negative reviews first."""
    where, params = ["n_negative_first > 0"], {}
    if product is not None:
        where.append("product_id = :pid")
        params["pid"] = find_product(store, product).id
    if dataset is not None:
        where.append("dataset = :dataset")
        params["dataset"] = dataset
    rows = query(store, "SELECT product_id, dataset, n_negative_first, answered_negative, "
                        "answered_turned, unanswered_negative, unanswered_turned, "
                        "median_hours_to_answer, edited_after_answer, n_changed "
                        f"FROM product_flips WHERE {' AND '.join(where)}", params).rows
    repeated = {r[0] for r in rows if sum(1 for s in rows if s[0] == r[0]) > 1}
    if repeated:
        shared = products_by_id(store)[min(repeated)]
        raise AlertError(f"product {shared.external_id} has reviews in several datasets; pick "
                         "one with --dataset")
    names = products_by_id(store)
    out = []
    for (pid, _dataset, n_first, n1, k1, n0, k0, hours, edited, changed) in rows:
        n1, k1, n0, k0 = int(n1), int(k1), int(n0), int(k0)
        diff, low, high = share_difference(k1, n1, k0, n0)
        p = names[int(pid)]
        out.append([p.external_id, p.name, int(n_first), n1, k1, k1 / n1 if n1 else None, n0,
                    k0, k0 / n0 if n0 else None, diff, low, high,
                    None if hours is None or pd.isna(hours) else float(hours), int(edited),
                    int(changed)])
    out.sort(key=lambda r: (-r[3], r[0]))
    return Table(list(ANSWER_COLUMNS), [tuple(r) for r in out])
