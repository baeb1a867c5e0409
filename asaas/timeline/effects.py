"""The effect of an event on a product's negative share: before vs after, and an interrupted
time series (segmented regression).

Series. Every computation here reads the daily series of ``asaas.timeline.daily`` (the
``product_daily`` view): reviews and negative reviews per product and UTC day, from the reviews'
own labels or from one model version's predictions.

Before vs after. The event's own day is left out of both windows (an event at 14:00 splits its
day, and daily counts cannot tell the halves apart): *before* is the ``window_days`` days up to
the day before, *after* the ``window_days`` days from the day after. The difference of the
negative shares (after - before) comes with Newcombe's hybrid score 95% interval (method 10 of
Newcombe 1998, from two Wilson intervals), which stays inside [-1, 1] and behaves at shares near
0, where Steam's are.

Interrupted time series. Periods are counted from the event (weeks by default: days 1-7 after
the event are period 0, days 1-7 before it period -1, so no period mixes before and after) over
``its_days`` on each side. On the periods' negative share y_t, weighted by their review counts:

    y_t = b0 + b1 t + b2 D_t + b3 t D_t + e_t,    D_t = 1 after the event

b2 is the change of level at the event and b3 the change of trend per period. Shares of
neighbouring periods are correlated (the same players, the same patch), so the intervals use
Newey-West (HAC) standard errors with ``floor(4 (T/100)^(2/9))`` lags and t reference
distributions (statsmodels). With fewer than ``MIN_PERIODS`` non-empty periods on a side the fit
is not attempted and ``reason`` says so.

"Significant" means the 95% interval excludes 0 (p < 0.05), one event at a time: with twenty
events, one significant result is expected by chance alone.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from asaas.errors import AsaasError
from asaas.store import Store
from asaas.tables import Table
from asaas.timeline.daily import daily_counts, fill_days, resolve_source
from asaas.timeline.events import Event, list_events
from asaas.timeline.intervals import CONFIDENCE, share_difference
from asaas.timeline.products import find_product

#: Fewer non-empty periods than this on either side of an event: no segmented regression.
MIN_PERIODS = 4
FREQS = {"day": 1, "week": 7}


class EffectsError(AsaasError):
    """Options for effects that cannot be used."""


# -- statistics ----------------------------------------------------------------------------------


def newey_west_lags(n_periods: int) -> int:
    """The usual automatic lag choice, floor(4 (T/100)^(2/9)), at least 1."""
    return max(1, int(math.floor(4 * (n_periods / 100.0) ** (2.0 / 9.0))))


@dataclass(frozen=True)
class SegmentedFit:
    level_change: float
    level_ci: tuple[float, float]
    level_p: float
    trend_change: float
    trend_ci: tuple[float, float]
    trend_p: float
    pre_level: float  # b0: the share just before the event, on the pre-event line
    pre_trend: float  # b1
    lags: int


def segmented_regression(t: np.ndarray, share: np.ndarray, weight: np.ndarray,
                         confidence: float = CONFIDENCE, lags: int | None = None
                         ) -> SegmentedFit:
    """Weighted least squares of the segmented model (see the module docstring) with HAC
    (Newey-West) covariance; ``t`` < 0 before the event, >= 0 after."""
    import statsmodels.api as sm

    t = np.asarray(t, dtype=float)
    after = (t >= 0).astype(float)
    # t is centred on the last pre-event period's end, so b0 is the level just before it.
    x = np.column_stack([np.ones_like(t), t, after, t * after])
    lags = newey_west_lags(len(t)) if lags is None else lags
    with warnings.catch_warnings():
        # A HAC covariance can come out with a negative diagonal on short, odd series: the
        # intervals are NaN then, and the caller reports the fit as unusable.
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = sm.WLS(np.asarray(share, dtype=float), x,
                     weights=np.asarray(weight, dtype=float)).fit(
            cov_type="HAC", cov_kwds={"maxlags": lags}, use_t=True)
        ci = fit.conf_int(alpha=1 - confidence)
    return SegmentedFit(
        level_change=float(fit.params[2]), level_ci=(float(ci[2][0]), float(ci[2][1])),
        level_p=float(fit.pvalues[2]), trend_change=float(fit.params[3]),
        trend_ci=(float(ci[3][0]), float(ci[3][1])), trend_p=float(fit.pvalues[3]),
        pre_level=float(fit.params[0]), pre_trend=float(fit.params[1]), lags=lags)


def event_periods(days: pd.DataFrame, event_day: pd.Timestamp, freq_days: int,
                  span_days: int) -> pd.DataFrame:
    """Periods counted from the event: columns t, n, neg, for the non-empty periods within
    ``span_days`` of it (the event's own day is in neither side)."""
    offset = (days.index - event_day).days.to_numpy()
    keep = (offset != 0) & (np.abs(offset) <= span_days)
    offset = offset[keep]
    # day +1..+f -> 0, day -1..-f -> -1: no period mixes the two sides.
    t = np.where(offset > 0, (offset - 1) // freq_days, -((-offset - 1) // freq_days) - 1)
    grouped = pd.DataFrame({"t": t, "n": days["n"].to_numpy()[keep],
                            "neg": days["neg"].to_numpy()[keep]}).groupby("t", as_index=False)
    periods = grouped.sum()
    return periods[periods["n"] > 0].reset_index(drop=True)


# -- effects -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    event: Event
    source: str
    window_days: int
    n_before: int
    neg_before: int
    n_after: int
    neg_after: int
    share_before: float | None
    share_after: float | None
    diff: float | None
    diff_ci: tuple[float | None, float | None]
    periods_before: int
    periods_after: int
    fit: SegmentedFit | None
    reason: str | None

    @property
    def diff_significant(self) -> bool | None:
        lo, hi = self.diff_ci
        if lo is None or hi is None:
            return None
        return lo > 0 or hi < 0

    @property
    def its_significant(self) -> bool | None:
        if self.fit is None:
            return None
        return self.fit.level_p < 1 - CONFIDENCE or self.fit.trend_p < 1 - CONFIDENCE


def _check_options(window_days: int, its_days: int, freq: str) -> int:
    if freq not in FREQS:
        raise EffectsError(f"unknown period {freq!r}; use {' or '.join(FREQS)}")
    if window_days < 1:
        raise EffectsError(f"--window-days must be at least 1 (got {window_days})")
    if its_days < MIN_PERIODS * FREQS[freq]:
        raise EffectsError(f"--its-days {its_days} leaves fewer than {MIN_PERIODS} periods of a "
                           f"{freq} on a side; use at least {MIN_PERIODS * FREQS[freq]}")
    return FREQS[freq]


def effect_of(event: Event, days: pd.DataFrame, *, source: str = "labels", window_days: int = 30,
              its_days: int = 182, freq: str = "week") -> Effect:
    """The effect of one event on a product's daily series ``days`` (``fill_days`` output, or
    any frame indexed by day with n and neg)."""
    freq_days = _check_options(window_days, its_days, freq)
    event_day = pd.Timestamp(event.occurred_at).normalize()
    offset = (days.index - event_day).days
    before = days[(offset < 0) & (offset >= -window_days)]
    after = days[(offset > 0) & (offset <= window_days)]
    nb, kb, na, ka = (int(before["n"].sum()), int(before["neg"].sum()), int(after["n"].sum()),
                      int(after["neg"].sum()))
    diff, lo, hi = share_difference(ka, na, kb, nb)
    periods = event_periods(days, event_day, freq_days, its_days)
    pb, pa = int((periods["t"] < 0).sum()), int((periods["t"] >= 0).sum())
    fit, reasons = None, []
    if nb == 0 or na == 0:
        reasons.append(f"no reviews {'before' if nb == 0 else 'after'} the event within "
                       f"{window_days} days")
    if pb < MIN_PERIODS or pa < MIN_PERIODS:
        reasons.append(f"too few {freq}s with reviews for the segmented regression ({pb} before, "
                       f"{pa} after; need {MIN_PERIODS} each)")
    else:
        share = periods["neg"] / periods["n"]
        fit = segmented_regression(periods["t"].to_numpy(), share.to_numpy(),
                                   periods["n"].to_numpy())
        if not all(math.isfinite(v) for v in (*fit.level_ci, *fit.trend_ci)):
            fit = None
            reasons.append("the HAC variance is not positive on this series (too few or too "
                           "uneven periods); no segmented estimate")
    return Effect(event, source, window_days, nb, kb, na, ka, kb / nb if nb else None,
                  ka / na if na else None, diff, (lo, hi), pb, pa, fit,
                  "; ".join(reasons) or None)


def event_effects(store: Store, product: str | None = None, *, source: str | None = None,
                  window_days: int = 30, its_days: int = 182, freq: str = "week",
                  kinds: Sequence[str] | None = None, dataset: str | None = None,
                  events: Sequence[Event] | None = None, topic: str | None = None
                  ) -> list[Effect]:
    """The effect of every event (of ``product``, of some ``kinds``) on the negative share, or
    (``topic``: RUN:TOPIC of ``asaas topics``) on that topic's share of the negative reviews:
    "did complaints about X fall after the patch?"."""
    _check_options(window_days, its_days, freq)  # bad options fail before any query
    pid = (find_product(store, product, dataset=dataset).id if product is not None
           else None)
    if topic is not None:
        from asaas.topics.runs import resolve_topic, topic_daily

        if source not in (None, "labels"):
            raise EffectsError("--topic reads the negatives its topic run was built on; drop "
                               "--source")
        run, number = resolve_topic(store, topic, pid)
        info = next(t for t in run.topics if t.no == number)
        label = f"topic {run.id}:{number} ({info.title}) of {run.source} negatives"
        if events is None:
            events = list_events(store, run.product.id, kinds=kinds)
        events = [e for e in events if e.product_id == run.product.id]
        if not events:
            return []
        counts = topic_daily(store, run.id, number)
        return _effects(events, counts, label, window_days, its_days, freq)
    src = resolve_source(store, source)
    if events is None:
        events = list_events(store, pid, kinds=kinds)
    if not events:
        return []
    counts = daily_counts(store, src, product_ids=sorted({e.product_id for e in events}),
                          dataset=dataset)
    return _effects(events, counts, src.label, window_days, its_days, freq)


def _effects(events: Sequence[Event], counts: pd.DataFrame, label: str, window_days: int,
             its_days: int, freq: str) -> list[Effect]:
    span = max(window_days, its_days)
    out = []
    for event in events:
        rows = counts[counts["product_id"] == event.product_id]
        day = pd.Timestamp(event.occurred_at).normalize()
        days = fill_days(rows, day - timedelta(days=span), day + timedelta(days=span))
        out.append(effect_of(event, days, source=label, window_days=window_days,
                             its_days=its_days, freq=freq))
    return out


EFFECT_COLUMNS = [
    "event_id", "product", "name", "occurred_at", "kind", "title", "source", "window_days",
    "n_before", "neg_before", "share_before", "n_after", "neg_after", "share_after", "diff",
    "diff_ci_low", "diff_ci_high", "diff_significant", "periods_before", "periods_after",
    "level_change", "level_ci_low", "level_ci_high", "level_p", "trend_change", "trend_ci_low",
    "trend_ci_high", "trend_p", "its_significant", "reason",
]

#: What table and markdown output show unless --full is given.
COMPACT_EFFECT_COLUMNS = [
    "event_id", "product", "occurred_at", "kind", "share_before", "share_after", "diff",
    "diff_ci_low", "diff_ci_high", "diff_significant", "level_change", "level_ci_low",
    "level_ci_high", "trend_change", "its_significant", "reason",
]


def effects_table(effects: Sequence[Effect]) -> Table:
    rows = []
    for f in effects:
        e, fit = f.event, f.fit
        rows.append((
            e.id, e.product, e.product_name, e.occurred_at, e.kind, e.title, f.source,
            f.window_days, f.n_before, f.neg_before, f.share_before, f.n_after, f.neg_after,
            f.share_after, f.diff, f.diff_ci[0], f.diff_ci[1], _yes_no(f.diff_significant),
            f.periods_before, f.periods_after,
            fit.level_change if fit else None, fit.level_ci[0] if fit else None,
            fit.level_ci[1] if fit else None, fit.level_p if fit else None,
            fit.trend_change if fit else None, fit.trend_ci[0] if fit else None,
            fit.trend_ci[1] if fit else None, fit.trend_p if fit else None,
            _yes_no(f.its_significant), f.reason))
    return Table(list(EFFECT_COLUMNS), rows)


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")
