"""The daily alert rules: days whose negatives (``negative``) or reviews (``volume``) leave the
product's own baseline.

Per product and UTC day d, against the baseline of the ``baseline_days`` (28) days before d,
once the product has ``min_history_days`` (14) days of history. Review counts are mostly 0-3 a
day with rare bursts, so centre and scale are the median and the MAD (scaled by 1.4826), and the
scale is never taken below the Poisson spread sqrt(max(median, 1)): a quiet product whose MAD is
0 is not alarmed by three reviews.

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
- Each kind is its own rule, so an alert does not depend on which other kinds were asked for
  (its id, days and numbers are the same with or without ``--kind``): a ``negative`` alert is a
  run of days that raised the negative rule, flagged days closer than ``merge_gap_days`` + 1
  days merged; a ``volume`` alert is a run of days that raised either rule (merged the same way)
  in which no day raised the negative rule: a burst whose negatives stayed usual. A burst with
  a negative day is the negative alert's, not a volume alert as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from asaas.timeline.intervals import wilson_interval
from asaas.timeline.products import Product
from asaas.timeline.rules import Alert, AlertRule

_MAD_SCALE = 1.4826  # MAD of a normal sample times this estimates its standard deviation


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
class DailyFlags:
    """One product's filled daily series and what each day raised."""

    days: pd.DataFrame  # indexed by day: n, neg
    negative: np.ndarray
    volume: np.ndarray
    has_baseline: np.ndarray
    base_neg_total: np.ndarray
    base_n_total: np.ndarray
    base_days: np.ndarray


def daily_flags(days: pd.DataFrame, rule: AlertRule) -> DailyFlags:
    """The negative and volume rules on one product's filled daily series."""
    n, neg = days["n"].to_numpy(), days["neg"].to_numpy()
    b = rule.baseline_days
    neg_med, neg_mad, neg_sum, count = _baseline(neg, b, rule.min_history_days)
    n_med, n_mad, n_sum, _ = _baseline(n, b, rule.min_history_days)
    has_baseline = ~np.isnan(neg_med)
    with np.errstate(invalid="ignore", divide="ignore"):
        base_share = np.where(n_sum > 0, neg_sum / n_sum, 0.0)
        negative = (has_baseline & (neg >= rule.min_negative)
                    & (neg > _threshold(neg_med, neg_mad, rule.z)))
        # The interval only where the counts already alarm (few days, most products none).
        if negative.any():
            lower = np.nan_to_num(wilson_interval(neg[negative], n[negative])[0], nan=0.0)
            negative[negative] = lower > base_share[negative]
        volume = (has_baseline & (n >= rule.min_volume)
                  & (n > _threshold(n_med, n_mad, rule.volume_z)))
    return DailyFlags(days, negative, volume, has_baseline, neg_sum, n_sum, count)


def platform_days(flags: dict[int, DailyFlags], rule: AlertRule) -> set[pd.Timestamp]:
    """Days on which volume bursts are the platform's, not the products' (module docstring)."""
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


def _alert(product: Product, f: DailyFlags, a: int, b: int, kind: str, source: str) -> Alert:
    """The alert of days a..b (positions in ``f.days``), against the baseline before day a."""
    n, neg = f.days["n"].to_numpy(), f.days["neg"].to_numpy()
    sel = slice(a, b + 1)
    peak = a + int(np.argmax(neg[sel] if kind == "negative" else n[sel]))
    base_days = max(int(f.base_days[a]), 1)
    base_daily_neg = f.base_neg_total[a] / base_days
    base_share = (f.base_neg_total[a] / f.base_n_total[a]) if f.base_n_total[a] > 0 else None
    k, m = int(neg[sel].sum()), int(n[sel].sum())
    return Alert(
        product.id, product.external_id, product.name, kind,
        f.days.index[a].date(), f.days.index[b].date(), m, k,
        float(base_daily_neg * (b - a + 1)), k / m if m else None,
        None if base_share is None else float(base_share),
        f.days.index[peak].date(), int(n[peak]), int(neg[peak]), source,
        int(f.base_n_total[a]), int(f.base_neg_total[a]))


def negative_alerts(product: Product, f: DailyFlags, rule: AlertRule, source: str
                    ) -> list[Alert]:
    """The negative alerts of one product: its runs of negative days (module docstring)."""
    return [_alert(product, f, a, b, "negative", source)
            for a, b in _periods(f.negative, rule.merge_gap_days)]


def volume_alerts(product: Product, f: DailyFlags, platform: set[pd.Timestamp],
                  rule: AlertRule, source: str) -> list[Alert]:
    """The volume alerts of one product: runs of flagged days (platform days left out) without
    a negative day (module docstring)."""
    volume = f.volume.copy()
    if platform:
        volume &= ~np.isin(f.days.index.to_numpy(), np.array(sorted(platform),
                                                              dtype="datetime64[ns]"))
    return [_alert(product, f, a, b, "volume", source)
            for a, b in _periods(f.negative | volume, rule.merge_gap_days)
            if not f.negative[a:b + 1].any()]
