"""The ``shift`` alert rule: change points in a product's weekly negative share.

Per product on calendar weeks (Monday to Sunday): PELT (``ruptures``) with a binomial cost, -2
log-likelihood of each segment's pooled negative share, divided by an overdispersion factor phi
(weekly shares vary more than binomial draws would). phi is estimated from neighbouring weeks:
the mean over pairs of consecutive weeks of their 2x2 Pearson statistic
(p1 - p2)^2 / (p (1 - p) (1/n1 + 1/n2)) times (N - 1)/N, whose mean is exactly 1 when the shares
are equal, even for the 0-3 weekly negatives of a small game; each pair is capped at 10.83 (the
99.9% point of a chi-square with 1 degree of freedom) so that one burst cannot inflate phi; at
least 1. Days already in a ``negative`` daily alert are left out of the weekly series (the
caller zeroes them): bursts are the daily rules' job, shifts are what remains. The penalty per
change point is ``cp_penalty`` (4) x log(weeks). A change becomes an alert when the negative
share goes up, the new segment has at least ``min_negative`` negatives, and the increase is
significant at ``cp_alpha`` (0.01) by a two-proportion z test inflated by phi. The weekly change
point is then located to the day (the split within a week of it that maximises the two
segments' binomial likelihood), and the alert covers the new segment from that day.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from asaas.timeline.products import Product
from asaas.timeline.rules import Alert, AlertRule

_CHI2_1_999 = 10.828  # 99.9% quantile of a chi-square with 1 degree of freedom


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


def shift_alerts(product: Product, days: pd.DataFrame, rule: AlertRule, source: str
                 ) -> list[Alert]:
    """The shift alerts of one product's filled daily series (module docstring)."""
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
