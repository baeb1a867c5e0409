"""What the timeline pages draw on top of a series: product events (marked lines) and alert
periods (shaded spans).

The page takes plain lists of these, whatever found them; ``events_for`` reads the ``events``
table (releases, patches, price changes... however they got there) and ``alerts_for`` asks the
alert detector when it is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asaas.report import query
from asaas.store import Store


@dataclass(frozen=True)
class EventMark:
    """A dated product event: drawn as a vertical line at ``at``."""

    product_id: int
    at: datetime
    kind: str  # release, patch, price, response...
    title: str


@dataclass(frozen=True)
class AlertSpan:
    """A period something looked wrong in (a spike, a change point, a review bomb): drawn
    shaded from ``start`` to ``end``."""

    product_id: int
    start: datetime
    end: datetime
    label: str
    kind: str = "alert"


def events_for(store: Store, product_ids: Sequence[int]) -> list[EventMark]:
    """Every event of these products, oldest first."""
    if not product_ids:
        return []
    rows = query(store, "SELECT product_id, occurred_at, kind, title FROM events "
                        "WHERE product_id IN :ids ORDER BY occurred_at, id",
                 {"ids": list(product_ids)}).rows
    return [EventMark(int(r[0]), r[1], r[2], r[3]) for r in rows]


def alerts_for(store: Store, product_ids: Sequence[int], *, dataset: str,
               freq: str) -> list[AlertSpan]:
    """Alert periods of these products; none until an alert detector is installed."""
    return []
