"""What the timeline pages draw on top of a series: product events (marked lines) and alerts
(marked at their exact days, one lane per kind).

The page takes plain lists of these, whatever found them; ``events_for`` and ``alerts_for``
turn what ``asaas.timeline.events`` (recorded, imported and derived events) and
``asaas.timeline.alerts`` (review bombs, volume bursts, change points) find into them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from asaas.store import Store


@dataclass(frozen=True)
class EventMark:
    """A dated product event: drawn as a vertical line at ``at``."""

    product_id: int
    at: datetime
    kind: str  # release, patch, price, response...
    title: str
    details: str = ""  # what else the event records, as one line (its tooltip)


@dataclass(frozen=True)
class AlertSpan:
    """A period something looked wrong in (a spike, a change point, a review bomb): drawn at its
    days, from ``start`` to ``end`` (midnight after its last day)."""

    product_id: int
    start: datetime
    end: datetime
    label: str
    kind: str = "alert"  # negative | volume | shift (others are drawn as negative ones)
    alert_id: str = ""
    #: The period's negative share and its baseline's (a shift is drawn at its new level).
    share: float | None = None
    baseline_share: float | None = None

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start).total_seconds() / 86400))


def _details(details: dict) -> str:
    return "; ".join(f"{k}: {v}" for k, v in details.items())


def events_for(store: Store, product_ids: Sequence[int]) -> list[EventMark]:
    """Every event of these products, oldest first."""
    from asaas.timeline.events import list_events

    wanted = set(product_ids)
    return [EventMark(e.product_id, e.occurred_at, e.kind, e.title, _details(e.details))
            for e in list_events(store) if e.product_id in wanted]


def alerts_for(store: Store, product_ids: Sequence[int], *, dataset: str,
               since: date | None = None, until: date | None = None) -> list[AlertSpan]:
    """The alerts `asaas alerts list --dataset DATASET` shows for these products (on the
    reviews' labels, default rules), overlapping [since, until]. An alert's days are whole UTC
    days, so its span ends at midnight after its last day."""
    from asaas.timeline.alerts import detect

    spans = []
    for a in detect(store, product_ids=list(product_ids), dataset=dataset, since=since,
                    until=until).alerts:
        share = (f", negative share {a.share:.0%} vs {a.baseline_share:.0%} before"
                 if a.share is not None and a.baseline_share is not None else "")
        spans.append(AlertSpan(a.product_id, datetime.combine(a.start, time()),
                               datetime.combine(a.end, time()) + timedelta(days=1),
                               f"{a.n_reviews:,} reviews, {a.n_negative:,} negative{share}",
                               a.kind, a.id, a.share, a.baseline_share))
    return spans
