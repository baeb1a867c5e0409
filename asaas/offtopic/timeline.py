"""Timelines with off-topic reviews set aside (``asaas timeline --offtopic``), read from the
``offtopic_timeline`` view, and the periods a timeline page marks as off-topic.

A period is marked off-topic when it has at least ``shares.MIN_REVIEWS`` scored reviews and
the lower end of the 95% interval of its corrected off-topic share reaches MARK_SHARE: the
classifier's errors alone would not put that many reviews off-topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from asaas.models.registry import ModelVersion
from asaas.offtopic.data import ON_TOPIC_LABEL
from asaas.offtopic.shares import MIN_REVIEWS, Rates, off_topic, share_of
from asaas.store import Store
from asaas.tables import Table, query

#: The lower 95% bound of a period's corrected off-topic share that marks it.
MARK_SHARE = 0.2
PERIOD_DAYS = {"day": 1, "week": 7}

COLUMNS = ("product", "period_start", "n_reviews", "offtopic_share", "corrected_offtopic_share",
           "offtopic_ci_low", "offtopic_ci_high", "n_labelled", "observed_negative_share",
           "on_topic_negative_share", "on_topic_ci_low", "on_topic_ci_high", "offtopic_note")


def check_version(mv: ModelVersion) -> None:
    from asaas.errors import AsaasError

    if ON_TOPIC_LABEL not in (mv.params.get("labels") or []):
        raise AsaasError(f"{mv.label} does not answer {ON_TOPIC_LABEL} (labels: "
                         f"{', '.join(mv.params.get('labels') or []) or 'none'}); train one "
                         "with `asaas train offtopic --labels about_game,...`")


def offtopic_rows(store: Store, product_ids: Sequence[int], mv: ModelVersion, *,
                  dataset: str | None, freq: str, since: date | None = None,
                  until: date | None = None) -> list[dict[str, Any]]:
    """The view's rows for these products, with the corrected off-topic share of each period
    added (see ``asaas.offtopic.shares``)."""
    check_version(mv)
    params: dict[str, Any] = {"ids": list(product_ids), "mv": mv.id, "freq": freq}
    where = ["product_id IN :ids", "model_version_id = :mv", "freq = :freq"]
    if dataset is not None:
        where.append("dataset = :dataset")
        params["dataset"] = dataset
    if since is not None:
        where.append("period_start >= :since")
        params["since"] = since - timedelta(days=31)  # the period holding since, whole
    if until is not None:
        where.append("period_start <= :until")
        params["until"] = until
    rows = query(store, f"SELECT * FROM offtopic_timeline WHERE {' AND '.join(where)} "
                        "ORDER BY product, period_start", params).dicts()
    if since is not None:
        rows = [r for r in rows if _period_end(r["period_start"], freq) > since]
    rates = Rates.from_summary(((mv.metrics or {}).get("labels") or {}).get(ON_TOPIC_LABEL)
                               or {})
    for r in rows:
        n, off = int(r["n_reviews"]), int(r["n_offtopic"])
        share = off_topic(share_of(ON_TOPIC_LABEL, n - off, n, rates))
        r.update(corrected_offtopic_share=share.corrected, offtopic_ci_low=share.low,
                 offtopic_ci_high=share.high, offtopic_note=share.reason)
    return rows


def _period_end(start: date, freq: str) -> date:
    if freq == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=PERIOD_DAYS[freq])


def offtopic_table(rows: list[dict[str, Any]]) -> Table:
    return Table(list(COLUMNS), [tuple(r.get(c) for c in COLUMNS) for r in rows])


def offtopic_periods(rows: list[dict[str, Any]], freq: str) -> list[tuple[int, datetime,
                                                                         datetime, str]]:
    """(product id, start, end, label) of each period marked off-topic (module docstring)."""
    out = []
    for r in rows:
        low = r.get("offtopic_ci_low")
        if low is None or int(r["n_reviews"]) < MIN_REVIEWS or low < MARK_SHARE:
            continue
        start = datetime.combine(r["period_start"], time())
        end = datetime.combine(_period_end(r["period_start"], freq), time())
        out.append((int(r["product_id"]), start, end,
                    f"off-topic: {r['corrected_offtopic_share']:.0%} of {r['n_reviews']:,} "
                    f"reviews (95% CI {low:.0%}-{r['offtopic_ci_high']:.0%})"))
    return out
