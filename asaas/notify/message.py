"""What a notification says about an alert, in each channel's format.

One ``AlertMessage`` per alert: the product, the period, its size against the baseline, the
most distinctive words, one driving review and the path of the alert's HTML page. It renders
as generic JSON (``payload``: the same object a webhook of format ``json`` receives, whose hash
``notifications.payload_sha256`` keeps), as a Slack message (``slack``) and as an email.

Review texts and product names come from strangers: in Slack's mrkdwn ``&``, ``<`` and ``>``
are escaped (a review saying ``<!channel>`` must not page a whole workspace), and an email's
subject is one line (a name with a line break cannot add headers).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any


@dataclass(frozen=True)
class AlertMessage:
    alert_id: str
    kind: str
    product: str  # external id
    name: str | None
    start: str  # YYYY-MM-DD
    end: str
    days: int
    n_reviews: int
    n_negative: int
    expected_negative: float
    share: float | None
    baseline_share: float | None
    peak_day: str
    peak_reviews: int
    peak_negative: int
    source: str
    words: list[str] = field(default_factory=list)
    #: One review behind the alert: id, reviewed_at (ISO), snippet; None when none is shown.
    review: dict[str, Any] | None = None
    #: The HTML page of the alert (its product's timeline around it), or None.
    page: str | None = None

    @property
    def product_label(self) -> str:
        return f"{self.name} ({self.product})" if self.name else self.product

    def size(self) -> str:
        """The alert against its baseline, in one sentence."""
        share = f"{self.share:.1%}" if self.share is not None else "-"
        base = f"{self.baseline_share:.1%}" if self.baseline_share is not None else "-"
        if self.kind == "volume":
            return (f"{self.n_reviews:,} reviews in {self.days} days (peak {self.peak_reviews:,} "
                    f"on {self.peak_day}); negative share {share} vs baseline {base}")
        return (f"{self.n_negative:,} negative of {self.n_reviews:,} reviews (expected "
                f"{self.expected_negative:.1f}); negative share {share} vs baseline {base}")

    def title(self) -> str:
        return (f"{self.kind} alert: {self.product_label}, {self.start} to {self.end}")

    def text(self) -> str:
        """Plain text, for email bodies and chat fallbacks."""
        lines = [self.title(), "", self.size() + ".", f"Source: {self.source}. Alert id: "
                 f"{self.alert_id}."]
        if self.words:
            lines.append(f"Distinctive words: {', '.join(self.words)}.")
        if self.review:
            lines += ["", f"A driving review ({self.review['id']}, "
                          f"{self.review['reviewed_at']}):", f"  {self.review['snippet']}"]
        if self.page:
            lines += ["", f"Page: {self.page}"]
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The alert as one JSON object (webhooks of format ``json``)."""
        return {
            "alert_id": self.alert_id, "kind": self.kind,
            "product": {"id": self.product, "name": self.name},
            "period": {"start": self.start, "end": self.end, "days": self.days},
            "reviews": self.n_reviews, "negative": self.n_negative,
            "expected_negative": round(self.expected_negative, 3),
            "share": self.share, "baseline_share": self.baseline_share,
            "peak": {"day": self.peak_day, "reviews": self.peak_reviews,
                     "negative": self.peak_negative},
            "source": self.source, "words": list(self.words), "review": self.review,
            "page": self.page, "text": self.title() + ": " + self.size(),
        }

    def sha256(self) -> str:
        body = json.dumps(self.payload(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def slack(self) -> dict[str, Any]:
        """A Slack incoming-webhook message (Mattermost and others accept it too)."""
        e = slack_escape
        body = [f"*{e(self.title())}*", e(self.size()) + "."]
        if self.words:
            body.append("Distinctive words: " + ", ".join(f"`{e(w)}`" for w in self.words))
        if self.review:
            body.append(f"A driving review ({e(str(self.review['id']))}, "
                        f"{e(str(self.review['reviewed_at']))}):\n>{e(self.review['snippet'])}")
        footer = f"Source: {e(self.source)} · alert id `{e(self.alert_id)}`"
        if self.page:
            footer += f" · page `{e(self.page)}`"
        return {"text": e(self.title()),
                "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                        "text": "\n".join(body)}},
                           {"type": "context", "elements": [{"type": "mrkdwn",
                                                             "text": footer}]}]}

    def email(self, sender: str, recipients: list[str]) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = one_line(f"[asaas] {self.title()}")
        msg["From"] = sender
        msg["To"] = ", ".join(recipients)
        # The same id for the same alert: a mail that is sent again after an uncertain failure
        # is recognised as the same message by clients that deduplicate on Message-ID.
        digest = hashlib.sha256(self.alert_id.encode("utf-8")).hexdigest()[:32]
        msg["Message-ID"] = f"<{digest}@asaas.alerts>"
        msg.set_content(self.text())
        return msg


def slack_escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def build(alert: Any, explanation: Any | None, page: str | None) -> AlertMessage:
    """The message of an ``asaas.timeline.alerts.Alert`` and its ``Explanation``."""
    words: list[str] = []
    review = None
    if explanation is not None:
        words = [str(row[0]) for row in explanation.terms.rows[:5]]
        if explanation.reviews.rows:
            rid, at, _label, _prob, snippet = explanation.reviews.rows[0]
            review = {"id": int(rid), "reviewed_at": str(at)[:19], "snippet": str(snippet)}
    return AlertMessage(
        alert_id=alert.id, kind=alert.kind, product=str(alert.product), name=alert.name,
        start=alert.start.isoformat(), end=alert.end.isoformat(), days=alert.days,
        n_reviews=int(alert.n_reviews), n_negative=int(alert.n_negative),
        expected_negative=float(alert.expected_negative),
        share=None if alert.share is None else float(alert.share),
        baseline_share=None if alert.baseline_share is None else float(alert.baseline_share),
        peak_day=alert.peak_day.isoformat(), peak_reviews=int(alert.peak_reviews),
        peak_negative=int(alert.peak_negative), source=str(alert.source), words=words,
        review=review, page=page)
