"""The daily series that event effects, alerts and responsiveness analyse: reviews and negative
reviews per product and UTC day, read from the ``product_daily`` view
(``sql/120_product_daily.sql``).

Negatives come either from the reviews' own labels (``labels``; on Steam the "recommended" flag)
or from one model version's predictions (``MODEL`` or ``MODEL:VERSION``), which is what
unlabelled feedback has: ``resolve_source`` turns the ``--source`` text into a ``SeriesSource``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from asaas.errors import AsaasError
from asaas.store import Store
from asaas.store.sql import text_query

LABELS = "labels"


class SourceError(AsaasError):
    """A ``--source`` that is neither ``labels`` nor a model reference."""


@dataclass(frozen=True)
class SeriesSource:
    """Where negative reviews come from: the labels, or one model version's predictions."""

    kind: str  # labels | model
    model_version_id: int | None = None
    label: str = LABELS


def resolve_source(store: Store, spec: str | None) -> SeriesSource:
    """``labels`` (default) or ``MODEL[:VERSION]`` (latest version when none is given)."""
    from asaas.models.registry import get_version, parse_ref

    spec = (spec or LABELS).strip()
    if spec == LABELS:
        return SeriesSource(LABELS)
    try:
        name, number = parse_ref(spec)
    except AsaasError:
        raise SourceError(f"bad source {spec!r}; use labels, MODEL or MODEL:VERSION") from None
    mv = get_version(store, name, number)
    return SeriesSource("model", mv.id, mv.label)


def daily_counts(store: Store, source: SeriesSource, *, product_ids: Sequence[int] | None = None,
                 dataset: str | None = None) -> pd.DataFrame:
    """Columns product_id, day (datetime64, midnight UTC), n, neg: one row per product and day
    that has reviews (days without reviews are absent; ``fill_days`` adds them)."""
    where = ["source = :source"]
    params: dict[str, Any] = {"source": source.kind}
    if source.kind == "model":
        where.append("model_version_id = :mv")
        params["mv"] = source.model_version_id
    if product_ids is not None:
        if not product_ids:
            return pd.DataFrame({"product_id": [], "day": pd.to_datetime([]), "n": [], "neg": []})
        where.append("product_id IN :pids")
        params["pids"] = [int(p) for p in product_ids]
    if dataset is not None:
        where.append("dataset = :dataset")
        params["dataset"] = dataset
    # Several datasets may hold reviews of one product: add them up per day. The day comes as
    # days since 1970 (date - date is a day count on DuckDB and PostgreSQL alike): whole
    # columns of integers become a frame at once, where date objects cost a parse each (0.9 s
    # of a 1.3 s read for the 80 Steam games).
    sql = ("SELECT product_id, CAST(day - DATE '1970-01-01' AS BIGINT) AS day, "
           "SUM(n_reviews) AS n, SUM(n_negative) AS neg "
           f"FROM product_daily WHERE {' AND '.join(where)} "
           "GROUP BY product_id, day ORDER BY product_id, day")
    with store.read_transaction() as conn:
        rows = conn.execute(text_query(sql, params), params).fetchall()
    columns = [np.array(c, dtype="int64") for c in zip(*rows)] if rows else \
        [np.zeros(0, dtype="int64")] * 4
    return pd.DataFrame({"product_id": columns[0],
                         "day": pd.to_datetime(columns[1], unit="D"),
                         "n": columns[2], "neg": columns[3]})


def fill_days(frame: pd.DataFrame, start: Any = None, end: Any = None) -> pd.DataFrame:
    """One product's daily rows with the days without reviews filled in as zeros, from its first
    day (or ``start``) to its last (or ``end``); indexed by day."""
    series = frame.set_index("day")[["n", "neg"]].sort_index()
    lo = pd.Timestamp(start) if start is not None else series.index.min()
    hi = pd.Timestamp(end) if end is not None else series.index.max()
    if pd.isna(lo) or pd.isna(hi) or hi < lo:
        return pd.DataFrame({"n": [], "neg": []}, index=pd.DatetimeIndex([], name="day"))
    days = pd.date_range(lo, hi, freq="D", name="day")
    return series.reindex(days, fill_value=0).astype("int64")
