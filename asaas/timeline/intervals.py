"""Confidence intervals of negative shares, from statsmodels (the same Wilson interval the SQL
views compute with the ``wilson_low``/``wilson_high`` macros of ``sql/macros.sql``)."""

from __future__ import annotations

from typing import Any

import numpy as np

CONFIDENCE = 0.95


def wilson_interval(k: Any, n: Any, confidence: float = CONFIDENCE) -> tuple[Any, Any]:
    """Wilson score interval of the share k/n, clipped to [0, 1]. Arrays in: two arrays out,
    elementwise, NaN where n is 0. Numbers in: two floats out, (None, None) when n is 0.

    The bound at a share of exactly 0 (or 1) is exactly 0 (or 1): statsmodels' formula leaves
    rounding noise there (1.7e-18 for 0 of 7), which printed as a lower bound above zero."""
    from statsmodels.stats.proportion import proportion_confint

    k_arr, n_arr = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    some = n_arr > 0
    lo, hi = proportion_confint(np.where(some, k_arr, 0.0), np.where(some, n_arr, 1.0),
                                alpha=1 - confidence, method="wilson")
    lo = np.where(k_arr <= 0, 0.0, lo)
    hi = np.where(some & (k_arr >= n_arr), 1.0, hi)
    if k_arr.ndim == 0 and n_arr.ndim == 0:
        return (float(lo), float(hi)) if some else (None, None)
    return np.where(some, lo, np.nan), np.where(some, hi, np.nan)


def share_difference(k_after: int, n_after: int, k_before: int, n_before: int,
                     confidence: float = CONFIDENCE) -> tuple[float | None, float | None,
                                                          float | None]:
    """(after - before share, Newcombe's hybrid score interval); Nones when a side is empty."""
    if n_after <= 0 or n_before <= 0:
        return None, None, None
    from statsmodels.stats.proportion import confint_proportions_2indep

    lo, hi = confint_proportions_2indep(k_after, n_after, k_before, n_before, method="newcomb",
                                        compare="diff", alpha=1 - confidence)
    return k_after / n_after - k_before / n_before, float(lo), float(hi)
