"""Alerts: review bombs and sudden shifts in a product's feedback, each with the reviews that
drive it.

Steam answers review bombs with a histogram and a manual "off-topic" flag. These alerts name the
period, its size against the product's own baseline, and show the reviews and words behind it
(``explain``). They run on the labels or on a model's predictions (``source``), so unlabelled
feedback gets alerts too.

Rules (``AlertRule`` holds every number; all are options of ``asaas alerts``):

Daily rules, per product and UTC day d, against the baseline of the ``baseline_days`` (28) days
before d, once the product has ``min_history_days`` (14) days of history. Review counts are
mostly 0-3 a day with rare bursts, so centre and scale are the median and the MAD (scaled by
1.4826), and the scale is never taken below the Poisson spread sqrt(max(median, 1)): a quiet
product whose MAD is 0 is not alarmed by three reviews.

- ``negative``: negatives(d) >= ``min_negative`` (10) AND negatives(d) > median + ``z`` (5) x
  scale of the baseline's daily negatives AND the lower 95% Wilson bound of d's negative share
  exceeds the baseline's pooled negative share (more negatives that are not just more reviews).
- ``volume``: reviews(d) >= ``min_volume`` (20) AND reviews(d) > median + ``volume_z`` (8) x
  scale of the baseline's daily reviews. This finds positive bombs (Assassin's Creed Unity after
  Notre-Dame) that the negative rule cannot see, but also launches, sales and big updates:
  volume-only alerts are a weaker signal and say so in their kind.
- Platform days: when at least ``platform_share`` (10%) of the products that have a baseline
  (and at least ``platform_min_products``, 10) raise a volume flag on the same day, the burst is
  the platform's (a Steam sale, the Steam Awards), not the product's: those volume flags are
  dropped and the day is listed in ``Detection.platform_days``. Negative flags are never dropped.
- Flagged days closer than ``merge_gap_days`` + 1 days merge into one alert; the alert is
  ``negative`` when any of its days raised the negative rule, else ``volume``.

Change points (``shift``), per product on calendar weeks (Monday to Sunday): PELT (``ruptures``)
with a binomial cost, -2 log-likelihood of each segment's pooled negative share, divided by an
overdispersion factor phi (weekly shares vary more than binomial draws would). phi is estimated
from neighbouring weeks: the mean over pairs of consecutive weeks of their 2x2 Pearson statistic
(p1 - p2)^2 / (p (1 - p) (1/n1 + 1/n2)) times (N - 1)/N, whose mean is exactly 1 when the shares
are equal, even for the 0-3 weekly negatives of a small game; each pair is capped at 10.83 (the
99.9% point of a chi-square with 1 degree of freedom) so that one burst cannot inflate phi; at
least 1. Days already in a ``negative`` daily alert are left out of the weekly series: bursts
are the daily rules' job, shifts are what remains. The penalty per change point is
``cp_penalty`` (4) x log(weeks). A change becomes an alert when the negative share goes up,
the new segment has at least ``min_negative`` negatives, and the increase is significant at
``cp_alpha`` (0.01) by a two-proportion z test inflated by phi. The weekly change point is
then located to the day (the split within a week of it that maximises the two segments'
binomial likelihood), and the alert covers the new segment from that day.

Alerts are computed on demand, not stored: they are a pure function of the reviews (or
predictions) and the rule, so a stored copy could only go stale. Their ids are
``KIND:PRODUCT:START`` (``negative:433950:2017-09-12``), the same for the same data and rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from asaas.report import Table
from asaas.store import Store
from asaas.store.sql import text_query
from asaas.timeline.effects import SeriesSource, daily_counts, fill_days, resolve_source
from asaas.timeline.products import Product, find_product, products_by_id
from asaas.timeline.rules import AlertError, AlertRule

_MAD_SCALE = 1.4826  # MAD of a normal sample times this estimates its standard deviation
_CHI2_1_999 = 10.828  # 99.9% quantile of a chi-square with 1 degree of freedom
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class Alert:
    product_id: int
    product: str  # external id
    name: str | None
    kind: str  # negative | volume | shift
    start: date
    end: date
    n_reviews: int
    n_negative: int
    expected_negative: float
    share: float | None
    baseline_share: float | None
    peak_day: date
    peak_reviews: int
    peak_negative: int
    source: str = "labels"
    #: What the share is compared with: the baseline window before a daily alert, the previous
    #: segment before a shift.
    baseline_reviews: int = 0
    baseline_negative: int = 0

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.product}:{self.start.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class Detection:
    alerts: list[Alert]
    platform_days: list[date] = field(default_factory=list)
    rule: AlertRule = field(default_factory=AlertRule)
    source: str = "labels"


# -- the daily rules -----------------------------------------------------------------------------


def wilson_lower(k: np.ndarray, n: np.ndarray, z: float = _Z95) -> np.ndarray:
    """Lower Wilson score bound of k/n, elementwise (0 where n is 0)."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, 0.0)
        centre = p + z * z / (2 * n)
        spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        lower = (centre - spread) / (1 + z * z / n)
    return np.where(n > 0, np.maximum(lower, 0.0), 0.0)


def _baseline(values: np.ndarray, days: int, min_days: int) -> tuple[np.ndarray, ...]:
    """Per day: (median, MAD, sum, count) of the ``days`` values before it (NaN when fewer than
    ``min_days`` exist)."""
    padded = np.concatenate([np.full(days, np.nan), values.astype(float)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, days)[:-1]  # window i ends at i-1
    count = np.sum(~np.isnan(windows), axis=1)
    enough = count >= min_days
    median = np.full(len(values), np.nan)
    mad = np.full(len(values), np.nan)
    total = np.full(len(values), np.nan)
    if enough.any():
        w = windows[enough]
        med = np.nanmedian(w, axis=1)
        median[enough] = med
        mad[enough] = np.nanmedian(np.abs(w - med[:, None]), axis=1)
        total[enough] = np.nansum(w, axis=1)
    return median, mad, total, count


def _threshold(median: np.ndarray, mad: np.ndarray, z: float) -> np.ndarray:
    scale = np.maximum(_MAD_SCALE * mad, np.sqrt(np.maximum(median, 1.0)))
    return median + z * scale


@dataclass
class _DailyFlags:
    """One product's filled daily series and what each day raised."""

    days: pd.DataFrame  # indexed by day: n, neg
    negative: np.ndarray
    volume: np.ndarray
    has_baseline: np.ndarray
    base_neg_total: np.ndarray
    base_n_total: np.ndarray
    base_days: np.ndarray


def daily_flags(days: pd.DataFrame, rule: AlertRule) -> _DailyFlags:
    """The negative and volume rules on one product's filled daily series."""
    n, neg = days["n"].to_numpy(), days["neg"].to_numpy()
    b = rule.baseline_days
    neg_med, neg_mad, neg_sum, count = _baseline(neg, b, rule.min_history_days)
    n_med, n_mad, n_sum, _ = _baseline(n, b, rule.min_history_days)
    has_baseline = ~np.isnan(neg_med)
    with np.errstate(invalid="ignore", divide="ignore"):
        base_share = np.where(n_sum > 0, neg_sum / n_sum, 0.0)
        negative = (has_baseline & (neg >= rule.min_negative)
                    & (neg > _threshold(neg_med, neg_mad, rule.z))
                    & (wilson_lower(neg, n) > base_share))
        volume = (has_baseline & (n >= rule.min_volume)
                  & (n > _threshold(n_med, n_mad, rule.volume_z)))
    return _DailyFlags(days, negative, volume, has_baseline, neg_sum, n_sum, count)


def _platform_days(flags: dict[int, _DailyFlags], rule: AlertRule) -> set[pd.Timestamp]:
    with_baseline: dict[pd.Timestamp, int] = {}
    spiking: dict[pd.Timestamp, int] = {}
    for f in flags.values():
        for day, base, vol, neg in zip(f.days.index, f.has_baseline, f.volume, f.negative):
            if base:
                with_baseline[day] = with_baseline.get(day, 0) + 1
                if vol and not neg:
                    spiking[day] = spiking.get(day, 0) + 1
    share = {day: k / with_baseline[day] for day, k in spiking.items()
             if with_baseline[day] >= rule.platform_min_products}
    platform = {day for day, s in share.items() if s >= rule.platform_share}
    # Hysteresis: a sale's first and last days lift fewer products than its peak, so days at
    # half the share next to a platform day extend it.
    grown = True
    while grown:
        grown = False
        for day, s in share.items():
            near = (day - pd.Timedelta(days=1) in platform
                    or day + pd.Timedelta(days=1) in platform)
            if day not in platform and s >= rule.platform_share / 2 and near:
                platform.add(day)
                grown = True
    return platform


def _periods(flagged: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Runs of flagged positions, merging runs separated by at most ``gap`` unflagged ones."""
    idx = np.flatnonzero(flagged)
    if not len(idx):
        return []
    out = [[int(idx[0]), int(idx[0])]]
    for i in idx[1:]:
        if i - out[-1][1] <= gap + 1:
            out[-1][1] = int(i)
        else:
            out.append([int(i), int(i)])
    return [(a, b) for a, b in out]


def _daily_alerts(product: Product, f: _DailyFlags, platform: set[pd.Timestamp],
                  rule: AlertRule, source: str) -> list[Alert]:
    volume = f.volume.copy()
    if platform:
        volume &= ~np.isin(f.days.index.to_numpy(), np.array(sorted(platform),
                                                              dtype="datetime64[ns]"))
    wanted_neg = "negative" in rule.kinds
    wanted_vol = "volume" in rule.kinds
    flagged = (f.negative if wanted_neg else np.zeros_like(f.negative)) | (
        volume if wanted_vol else np.zeros_like(volume))
    n, neg = f.days["n"].to_numpy(), f.days["neg"].to_numpy()
    out = []
    for a, b in _periods(flagged, rule.merge_gap_days):
        kind = "negative" if wanted_neg and f.negative[a:b + 1].any() else "volume"
        sel = slice(a, b + 1)
        peak = a + int(np.argmax(neg[sel] if kind == "negative" else n[sel]))
        base_days = max(int(f.base_days[a]), 1)
        base_daily_neg = f.base_neg_total[a] / base_days
        base_share = (f.base_neg_total[a] / f.base_n_total[a]) if f.base_n_total[a] > 0 else None
        k, m = int(neg[sel].sum()), int(n[sel].sum())
        out.append(Alert(
            product.id, product.external_id, product.name, kind,
            f.days.index[a].date(), f.days.index[b].date(), m, k,
            float(base_daily_neg * (b - a + 1)), k / m if m else None,
            None if base_share is None else float(base_share),
            f.days.index[peak].date(), int(n[peak]), int(neg[peak]), source,
            int(f.base_n_total[a]), int(f.base_neg_total[a])))
    return out


# -- change points -------------------------------------------------------------------------------


def weekly(days: pd.DataFrame) -> pd.DataFrame:
    """Calendar weeks (Monday start) of a filled daily series: index week start; n, neg."""
    starts = days.index - pd.to_timedelta(days.index.day_of_week, unit="D")
    return days.groupby(starts).sum().rename_axis("week")


def overdispersion(k: np.ndarray, n: np.ndarray) -> float:
    """phi from consecutive weeks (module docstring); 1 when nothing can be estimated."""
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    k1, n1, k2, n2 = k[:-1], n[:-1], k[1:], n[1:]
    total = n1 + n2
    ok = (n1 > 0) & (n2 > 0)
    pooled = np.where(ok, (k1 + k2) / np.where(ok, total, 1), 0)
    ok &= (pooled > 0) & (pooled < 1)
    if ok.sum() < 5:
        return 1.0
    p1, p2, p = k1[ok] / n1[ok], k2[ok] / n2[ok], pooled[ok]
    # The 2x2 Pearson statistic of each pair; (N - 1) / N makes its mean exactly 1 under equal
    # shares, however small the counts (a median would not be: weekly negatives are 0-3).
    stat = ((p1 - p2) ** 2 / (p * (1 - p) * (1 / n1[ok] + 1 / n2[ok]))
            * (total[ok] - 1) / total[ok])
    return max(1.0, float(np.mean(np.minimum(stat, _CHI2_1_999))))


def change_points(k: np.ndarray, n: np.ndarray, penalty: float, phi: float | None = None,
                  min_size: int = 2) -> list[int]:
    """Indices where a new segment of the share k/n starts (PELT, binomial cost / phi)."""
    import ruptures as rpt
    from ruptures.base import BaseCost

    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    if len(k) < 2 * min_size:
        return []
    phi = overdispersion(k, n) if phi is None else phi

    class BinomialCost(BaseCost):
        model = "binomial"

        def __init__(self) -> None:
            self.min_size = min_size

        def fit(self, signal: np.ndarray) -> BinomialCost:
            self.signal = signal
            self.ck = np.concatenate([[0.0], np.cumsum(signal[:, 0])])
            self.cn = np.concatenate([[0.0], np.cumsum(signal[:, 1])])
            return self

        def error(self, start: int, end: int) -> float:
            kk, nn = self.ck[end] - self.ck[start], self.cn[end] - self.cn[start]
            if nn <= 0 or kk <= 0 or kk >= nn:
                return 0.0
            p = kk / nn
            return float(-2.0 * (kk * math.log(p) + (nn - kk) * math.log(1 - p)) / phi)

    algo = rpt.Pelt(custom_cost=BinomialCost(), min_size=min_size, jump=1)
    ends = algo.fit(np.column_stack([k, n])).predict(pen=penalty * math.log(len(k)))
    return [int(e) for e in ends[:-1]]


def _binomial_loglik(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Log-likelihood of pooled shares k/n (elementwise; 0 where the share is 0 or 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / np.where(n > 0, n, 1), 0.0)
        ll = k * np.log(np.where(k > 0, p, 1.0)) + (n - k) * np.log(np.where(n - k > 0, 1 - p, 1.0))
    return ll


def refine_to_day(days: pd.DataFrame, lo: int, guess: int, hi: int) -> int:
    """The day index in [guess - 7, guess + 7] that best splits days[lo:hi] into two binomial
    segments: a weekly change point located to the day."""
    k = days["neg"].to_numpy()[lo:hi].astype(float)
    n = days["n"].to_numpy()[lo:hi].astype(float)
    ck, cn = np.concatenate([[0.0], np.cumsum(k)]), np.concatenate([[0.0], np.cumsum(n)])
    cand = np.arange(max(lo + 1, guess - 7), min(hi - 1, guess + 7) + 1) - lo
    if not len(cand):
        return guess
    left = _binomial_loglik(ck[cand], cn[cand])
    right = _binomial_loglik(ck[-1] - ck[cand], cn[-1] - cn[cand])
    return int(lo + cand[int(np.argmax(left + right))])


def _shift_alerts(product: Product, days: pd.DataFrame, rule: AlertRule, source: str
                  ) -> list[Alert]:
    weeks = weekly(days)
    k, n = weeks["neg"].to_numpy(), weeks["n"].to_numpy()
    phi = overdispersion(k, n)
    cps = change_points(k, n, rule.cp_penalty, phi)
    bounds = [0, *cps, len(weeks)]
    out = []
    from scipy.stats import norm

    first = days.index[0]

    def day_pos(week: int) -> int:
        if week >= len(weeks):
            return len(days)
        return max(0, (weeks.index[week] - first).days)

    dk, dn = days["neg"].to_numpy(), days["n"].to_numpy()
    for i in range(1, len(bounds) - 1):
        lo, hi = day_pos(bounds[i - 1]), day_pos(bounds[i + 1])
        split = refine_to_day(days, lo, day_pos(bounds[i]), hi)
        k1, n1 = dk[lo:split].sum(), dn[lo:split].sum()
        k2, n2 = dk[split:hi].sum(), dn[split:hi].sum()
        if n1 == 0 or n2 == 0 or k2 < rule.min_negative:
            continue
        p1, p2, p = k1 / n1, k2 / n2, (k1 + k2) / (n1 + n2)
        if p2 <= p1 or p <= 0 or p >= 1:
            continue
        z = (p2 - p1) / math.sqrt(phi * p * (1 - p) * (1 / n1 + 1 / n2))
        if norm.sf(z) >= rule.cp_alpha:
            continue
        peak = split + int(np.argmax(dk[split:hi]))
        out.append(Alert(
            product.id, product.external_id, product.name, "shift", days.index[split].date(),
            days.index[hi - 1].date(), int(n2), int(k2), float(p1 * n2), float(p2), float(p1),
            days.index[peak].date(), int(dn[peak]), int(dk[peak]), source, int(n1), int(k1)))
    return out


# -- detection -----------------------------------------------------------------------------------


def detect_frame(counts: pd.DataFrame, products: dict[int, Product], rule: AlertRule | None = None,
                 *, source: str = "labels", product_ids: Sequence[int] | None = None
                 ) -> Detection:
    """Alerts from daily counts (columns product_id, day, n, neg; days without reviews may be
    missing). Every product's volume flags count for the platform rule; alerts are returned for
    ``product_ids`` (all when None), ordered by product then start."""
    rule = (rule or AlertRule()).check()
    flags: dict[int, _DailyFlags] = {}
    for pid, rows in counts.groupby("product_id", sort=True):
        days = fill_days(rows)
        if len(days):
            flags[int(pid)] = daily_flags(days, rule)
    platform = _platform_days(flags, rule) if "volume" in rule.kinds else set()
    wanted = set(flags) if product_ids is None else {int(p) for p in product_ids}
    alerts: list[Alert] = []
    for pid in sorted(wanted & set(flags)):
        product = products.get(pid) or Product(pid, "?", str(pid), None)
        found = []
        if "negative" in rule.kinds or "volume" in rule.kinds:
            found += _daily_alerts(product, flags[pid], platform, rule, source)
        if "shift" in rule.kinds:
            # Bursts are the daily rule's; a shift is what remains without them.
            calm = flags[pid].days.copy()
            calm.loc[flags[pid].negative, ["n", "neg"]] = 0
            found += _shift_alerts(product, calm, rule, source)
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
        product_id = find_product(store, product).id
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
    from asaas.timeline.events import parse_time

    return parse_time(value).date()


ALERT_COLUMNS = ["alert_id", "product", "name", "kind", "start", "end", "days", "n_reviews",
                 "n_negative", "expected_negative", "share", "baseline_share", "peak_day",
                 "peak_reviews", "peak_negative", "source"]


def alerts_table(alerts: Sequence[Alert]) -> Table:
    return Table(list(ALERT_COLUMNS), [
        (a.id, a.product, a.name, a.kind, a.start, a.end, a.days, a.n_reviews, a.n_negative,
         round(a.expected_negative, 2), a.share, a.baseline_share, a.peak_day, a.peak_reviews,
         a.peak_negative, a.source) for a in alerts])


# -- one alert, explained ------------------------------------------------------------------------


_ALERT_ID = re.compile(r"^(negative|volume|shift):(.+):(\d{4}-\d{2}-\d{2})$")


def find_alert(store: Store, alert_id: str, *, source: str | None = None,
               dataset: str | None = None, rule: AlertRule | None = None) -> Alert:
    """The alert ``KIND:PRODUCT:YYYY-MM-DD`` names (any alert of that kind and product whose
    period contains the day, so an id stays usable while a period grows)."""
    match = _ALERT_ID.match(alert_id.strip())
    if not match:
        raise AlertError(f"bad alert id {alert_id!r}; use KIND:PRODUCT:YYYY-MM-DD as "
                         "`asaas alerts` prints it, e.g. negative:433950:2017-09-12")
    kind, ref, day = match.group(1), match.group(2), date.fromisoformat(match.group(3))
    prod = find_product(store, ref)
    rule = rule or AlertRule()
    found = detect(store, prod.id, source=source, dataset=dataset,
                   rule=replace(rule, kinds=tuple(dict.fromkeys((*rule.kinds, kind)))))
    for alert in found.alerts:
        if alert.kind == kind and alert.start <= day <= alert.end:
            return alert
    raise AlertError(f"no {kind} alert of {prod.label} on {day} with these settings "
                     f"({found.source}); `asaas alerts {ref}` lists its alerts")


@dataclass
class Explanation:
    alert: Alert
    terms: Table  # term, period_reviews, baseline_reviews, z
    reviews: Table  # review_id, reviewed_at, label, prob_positive, snippet
    baseline_reviews: int  # all reviews of the baseline window
    period_reviews: int


SNIPPET_CHARS = 160


def _reviews_between(store: Store, alert: Alert, src: SeriesSource, start: date, end: date,
                     dataset: str | None) -> pd.DataFrame:
    params: dict[str, Any] = {"pid": alert.product_id, "lo": pd.Timestamp(start).to_pydatetime(),
                              "hi": (pd.Timestamp(end) + pd.Timedelta(days=1)).to_pydatetime()}
    where = ["r.product_id = :pid", "r.reviewed_at >= :lo", "r.reviewed_at < :hi"]
    if dataset is not None:
        where.append("r.dataset = :dataset")
        params["dataset"] = dataset
    if src.kind == "model":
        sql = ("SELECT r.id, r.reviewed_at, r.label, p.label AS judged, p.prob_positive, r.text "
               "FROM reviews r JOIN predictions p ON p.review_id = r.id "
               f"AND p.model_version_id = :mv WHERE {' AND '.join(where)}")
        params["mv"] = src.model_version_id
    else:
        sql = ("SELECT r.id, r.reviewed_at, r.label, r.label AS judged, "
               "CAST(NULL AS DOUBLE PRECISION) AS prob_positive, r.text FROM reviews r "
               f"WHERE {' AND '.join(where)} AND r.label IS NOT NULL")
    with store.read_transaction() as conn:
        rows = conn.execute(text_query(sql, params), params).fetchall()
    return pd.DataFrame(rows, columns=["review_id", "reviewed_at", "label", "judged",
                                       "prob_positive", "text"])


def distinctive_terms(period: Sequence[str], baseline: Sequence[str], top: int = 15,
                      prior: float = 100.0) -> Table:
    """Words that set ``period`` apart from ``baseline``: the log-odds ratio of document
    frequencies with an informative Dirichlet prior (Monroe, Colaresi and Quinn 2008, "Fightin'
    words"), as a z score. Document frequencies, so one review repeating a word counts once."""
    from sklearn.feature_extraction.text import CountVectorizer

    columns = ["term", "period_reviews", "baseline_reviews", "z"]
    if not len(period):
        return Table(columns, [])
    vec = CountVectorizer(binary=True, stop_words="english", min_df=2,
                          token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
    try:
        x = vec.fit_transform(list(period) + list(baseline))
    except ValueError:  # no word appears twice
        return Table(columns, [])
    a = np.asarray(x[:len(period)].sum(axis=0)).ravel().astype(float)
    b = np.asarray(x[len(period):].sum(axis=0)).ravel().astype(float)
    total = a + b
    alpha = prior * total / total.sum()
    a0, b0, alpha0 = a.sum(), b.sum(), alpha.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (np.log((a + alpha) / (a0 + alpha0 - a - alpha))
                 - np.log((b + alpha) / (b0 + alpha0 - b - alpha)))
        z = delta / np.sqrt(1 / (a + alpha) + 1 / (b + alpha))
    order = np.argsort(-z)[:top]
    terms = vec.get_feature_names_out()
    return Table(columns, [(str(terms[i]), int(a[i]), int(b[i]), float(z[i]))
                           for i in order if a[i] > 0 and z[i] > 0])


def explain(store: Store, alert: Alert | str, *, source: str | None = None,
            dataset: str | None = None, rule: AlertRule | None = None, n_reviews: int = 10,
            n_terms: int = 15) -> Explanation:
    """The reviews and words behind an alert: its most distinctive words against the baseline
    before it (negative reviews against the baseline's negative reviews, for negative and shift
    alerts), and the reviews that carry them (with a model source: the most confidently
    negative ones first)."""
    if n_reviews < 0 or n_terms < 0:
        raise AlertError("--reviews and --terms must be 0 or more")
    rule = rule or AlertRule()
    if isinstance(alert, str):
        alert = find_alert(store, alert, source=source, dataset=dataset, rule=rule)
    src = resolve_source(store, source)
    period = _reviews_between(store, alert, src, alert.start, alert.end, dataset)
    # A shift is compared with as long a stretch before it (up to half a year), a burst with the
    # rule's baseline.
    span = min(max(alert.days, rule.baseline_days), 182) if alert.kind == "shift" \
        else rule.baseline_days
    base_start = alert.start - timedelta(days=span)
    baseline = _reviews_between(store, alert, src, base_start, alert.start - timedelta(days=1),
                                dataset)
    # A negative or shift alert is about its complaints: what sets them apart from the
    # complaints of the baseline (not from praise). A volume alert is about all its reviews.
    if alert.kind == "volume":
        focus, usual = period, baseline
    else:
        focus, usual = period[period["judged"] == 0], baseline[baseline["judged"] == 0]
    terms = distinctive_terms(focus["text"].tolist(), usual["text"].tolist(), top=n_terms)
    weights = {row[0]: row[3] for row in terms.rows}
    if len(focus):
        words = focus["text"].str.lower().str.findall(r"(?u)\b[^\W\d_]{2,}\b")
        focus = focus.assign(term_score=[sum(weights.get(w, 0.0) for w in set(ws))
                                         for ws in words])
        keys = ["term_score"]
        if src.kind == "model":
            focus = focus.assign(confidence=(1 - focus["prob_positive"]) if alert.kind != "volume"
                                 else (focus["prob_positive"] - 0.5).abs())
            keys = ["confidence", "term_score"]
        focus = focus.sort_values(keys + ["review_id"], ascending=[False] * len(keys) + [True])
    shown = focus.head(n_reviews)
    reviews = Table(["review_id", "reviewed_at", "label", "prob_positive", "snippet"], [
        (int(r.review_id), r.reviewed_at, None if pd.isna(r.label) else int(r.label),
         None if pd.isna(r.prob_positive) else float(r.prob_positive),
         _snippet(r.text)) for r in shown.itertuples()])
    return Explanation(alert, terms, reviews, len(baseline), len(period))


def _snippet(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS - 1] + "…"


def rule_from_options(**options: Any) -> AlertRule:
    """An AlertRule from keyword options, ignoring those left at None."""
    names = {f.name for f in fields(AlertRule)}
    return replace(AlertRule(), **{k: v for k, v in options.items()
                                   if k in names and v is not None}).check()


def rule_dict(rule: AlertRule) -> dict[str, Any]:
    return asdict(rule)
