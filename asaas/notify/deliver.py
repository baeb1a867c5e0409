"""`asaas notify`: detect alerts, send each one not yet sent to each channel, record it.

Alerts are detected with every kind of rule (``AlertRule()``'s full set) whatever kinds are to
be sent: an alert's id depends on the kinds detected together (a shift is computed without the
days of negative bursts), so detecting with the same set every run is what keeps ids, and with
them "sent once", stable. ``kinds`` only filters what is sent.

Per alert, the message (asaas.notify.message) is built once for all channels: the alert's
distinctive words and its first driving review (``explain``) and an HTML page, the product's
daily timeline around the alert (asaas.timeline.series ``timeline`` and asaas.timeline.page
``write_timeline_html``), written under ``ASAAS_HOME/alerts``.

A channel whose delivery fails (after its retries) is not tried again in this run: its other
alerts stay owed ("not tried") and the next run tries them all, so a webhook that is down costs
one time-out, not one per alert. A lock file (``ASAAS_HOME/notify.lock``) keeps two runs that
overlap from sending the same alert twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from asaas.errors import AsaasError, ConfigError
from asaas.notify.channels import DeliveryError, Email, Masker, Webhook
from asaas.notify.message import AlertMessage, build
from asaas.notify.outbox import SENT, deliveries, record
from asaas.store import Store

#: Days before the page's alert and after it that the page shows.
PAGE_DAYS_BEFORE, PAGE_DAYS_AFTER = 56, 14


@dataclass(frozen=True)
class NotifyOptions:
    source: str | None = None  # labels, MODEL or MODEL:VERSION
    dataset: str | None = None
    #: Only alerts that end on or after this day (None: all, which on a long history is many).
    since: date | None = None
    #: Kinds sent (all are detected, see the module docstring).
    kinds: tuple[str, ...] = ("negative", "volume", "shift")
    pages: bool = True
    dry_run: bool = False
    #: time.monotonic() after which no further alert is sent (None: no limit): the rest stay
    #: owed ("not tried") and the next run sends them.
    deadline: float | None = None


@dataclass(frozen=True)
class Outcome:
    alert_id: str
    channel: str
    #: sent | failed | already sent | not tried | would send
    status: str
    attempts: int = 0
    error: str | None = None


@dataclass
class NotifyReport:
    alerts: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    #: channel -> the masked error that stopped it in this run.
    failures: dict[str, str] = field(default_factory=dict)
    messages: dict[str, AlertMessage] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def count(self, status: str, channel: str | None = None) -> int:
        return sum(1 for o in self.outcomes
                   if o.status == status and (channel is None or o.channel == channel))


def channels_from_settings(settings: Any, http: Any) -> list[Any]:
    """The channels the environment configures (ConfigError when none is)."""
    out: list[Any] = []
    if settings.webhook_url:
        out.append(Webhook(settings.webhook_url, settings.webhook_format, http))
    if settings.smtp_host:
        out.append(Email(settings))
    if not out:
        raise ConfigError("no channel to notify: set ASAAS_WEBHOOK_URL (a Slack-compatible or "
                          "JSON webhook) and/or ASAAS_SMTP_HOST with ASAAS_MAIL_FROM and "
                          "ASAAS_MAIL_TO")
    return out


def masker_from_settings(settings: Any) -> Masker:
    return Masker([settings.webhook_url, settings.smtp_password])


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    try:
        home.mkdir(parents=True, exist_ok=True)
        fh = open(home / "notify.lock", "a+")
    except OSError as exc:
        raise ConfigError(f"cannot create {home / 'notify.lock'}: {exc.strerror or exc}; check "
                          "ASAAS_HOME") from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AsaasError(f"another `asaas notify` is running (lock {home / 'notify.lock'});"
                             " let it finish") from None
        yield
    finally:
        fh.close()


def page_path(home: Path, alert_id: str) -> Path:
    return home / "alerts" / (re.sub(r"[^A-Za-z0-9._-]+", "_", alert_id.replace(":", "-"))
                              + ".html")


def _write_page(store: Store, alert: Any, home: Path, dataset: str | None) -> str:
    from asaas.timeline.page import write_timeline_html
    from asaas.timeline.series import timeline

    series = timeline(store, str(alert.product), freq="day", dataset=dataset,
                      since=alert.start - timedelta(days=PAGE_DAYS_BEFORE),
                      until=alert.end + timedelta(days=PAGE_DAYS_AFTER))
    path = page_path(home, alert.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_timeline_html(store, path, series)
    return str(path)


def notify(store: Store, channels: Sequence[Any], options: NotifyOptions, *, home: Path,
           masker: Masker, echo: Callable[[str], None] | None = None) -> NotifyReport:
    from asaas.timeline.alerts import detect
    from asaas.timeline.explain import explain
    from asaas.timeline.rules import AlertRule

    echo = echo or (lambda _line: None)
    rule = AlertRule()  # every kind: stable ids (module docstring)
    report = NotifyReport()
    with _locked(home):
        found = detect(store, source=options.source, dataset=options.dataset, rule=rule,
                       since=options.since)
        alerts = [a for a in found.alerts if a.kind in options.kinds]
        report.alerts = len(alerts)
        done = {ch.name: deliveries(store, ch.name) for ch in channels}
        left = 0
        for alert in alerts:
            owed = [ch for ch in channels
                    if getattr(done[ch.name].get(alert.id), "status", None) != SENT]
            for ch in channels:
                if ch not in owed:
                    report.outcomes.append(Outcome(alert.id, ch.name, "already sent"))
            if owed and options.deadline is not None and time.monotonic() >= options.deadline:
                left += 1
                report.outcomes += [Outcome(alert.id, ch.name, "not tried") for ch in owed]
                continue
            live = [ch for ch in owed if ch.name not in report.failures]
            for ch in owed:
                if ch.name in report.failures:
                    report.outcomes.append(Outcome(alert.id, ch.name, "not tried"))
            if not live:
                continue
            message = _message(store, alert, options, home, rule, report, explain)
            report.messages[alert.id] = message
            for ch in live:
                if options.dry_run:
                    report.outcomes.append(Outcome(alert.id, ch.name, "would send"))
                    continue
                try:
                    attempts = ch.send(message)
                except DeliveryError as exc:
                    line = masker(str(exc))
                    record(store, alert.id, ch.name, ok=False, attempts=exc.attempts,
                           error=line, payload_sha256=message.sha256(), source=message.source)
                    report.failures[ch.name] = line
                    report.outcomes.append(Outcome(alert.id, ch.name, "failed", exc.attempts,
                                                   line))
                    echo(f"{alert.id} -> {ch.name}: failed ({line})")
                    continue
                record(store, alert.id, ch.name, ok=True, attempts=attempts, error=None,
                       payload_sha256=message.sha256(), source=message.source)
                report.outcomes.append(Outcome(alert.id, ch.name, "sent", attempts))
                echo(f"{alert.id} -> {ch.name}: sent")
        if left:
            report.notes.append(f"time limit: {left:,} alerts left unsent for the next run")
    return report


def _message(store: Store, alert: Any, options: NotifyOptions, home: Path, rule: Any,
             report: NotifyReport, explain: Callable[..., Any]) -> AlertMessage:
    why = explain(store, alert, source=options.source, dataset=options.dataset, rule=rule,
                  n_reviews=1, n_terms=5)
    page = None
    if options.pages and not options.dry_run:
        try:
            page = _write_page(store, alert, home, options.dataset)
        except AsaasError as exc:  # a page that cannot be drawn does not hold the alert back
            report.notes.append(f"{alert.id}: no HTML page ({exc})")
    return build(alert, why, page)
