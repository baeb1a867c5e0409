"""The notifications table: which alert went to which channel, and which are still owed.

One row per (alert, channel). A delivery is recorded after it is made: ``sent`` with its time,
or ``failed`` with its attempts and last error (masked by the caller), which the next run tries
again. So an alert is sent at least once and, short of a crash between a delivery and its
record (then the next run sends it again, with the same email Message-ID), exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from asaas.clock import utcnow
from asaas.store import Store
from asaas.store.schema import notifications

SENT, FAILED = "sent", "failed"


@dataclass(frozen=True)
class Delivery:
    alert_id: str
    channel: str
    status: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


def deliveries(store: Store, channel: str) -> dict[str, Delivery]:
    """alert_id -> what is recorded for ``channel``."""
    cols = [notifications.c[n] for n in ("alert_id", "channel", "status", "attempts",
                                           "last_error", "sent_at")]
    with store.transaction() as conn:
        rows = conn.execute(sa.select(*cols).where(notifications.c.channel == channel))
        return {r[0]: Delivery(*r) for r in rows}


def record(store: Store, alert_id: str, channel: str, *, ok: bool, attempts: int,
           error: str | None, payload_sha256: str, source: str | None) -> None:
    """Record one delivery (or failed one) of ``alert_id`` to ``channel``."""
    now = utcnow()
    values = {"status": SENT if ok else FAILED, "last_error": None if ok else (error or "")[:2000],
              "payload_sha256": payload_sha256, "source": source, "last_tried_at": now,
              "sent_at": now if ok else None}
    with store.transaction() as conn:
        where = (notifications.c.alert_id == alert_id) & (notifications.c.channel == channel)
        done = conn.execute(sa.update(notifications).where(where).values(
            attempts=notifications.c.attempts + attempts, **values))
        if done.rowcount == 0:
            conn.execute(sa.insert(notifications).values(
                alert_id=alert_id, channel=channel, attempts=attempts, first_tried_at=now,
                **values))
