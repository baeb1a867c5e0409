"""What `asaas notify` and a job's notify step are told: one options type built from the
command's flags and from the step's keys by the same function (``NotifyRequest.from_values``),
and one function that runs it (``run_notify``), so a step does exactly what the command does."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from asaas.clock import utcnow
from asaas.notify.deliver import NotifyOptions, NotifyReport
from asaas.options import Options, option, parse_date
from asaas.store import Store

#: Alerts ending this many days before today or later are "new" when no since is given.
DEFAULT_SINCE_DAYS = 14
KINDS = ("negative", "volume", "shift")


@dataclass
class NotifyRequest(Options):
    """One `asaas notify` run (see ``asaas notify --help``)."""

    #: Only alerts ending on or after this day (None: DEFAULT_SINCE_DAYS days ago, UTC).
    since: date | None = option(None, parse=parse_date)
    kinds: list[str] | None = option(None, choices=KINDS, example='["negative"]')
    no_pages: bool = option(False)
    dry_run: bool = option(False)
    #: labels (None) or MODEL[:VERSION].
    source: str | None = option(None)
    dataset: str | None = option(None)
    #: Minutes after which no further alert is sent (None: no limit).
    max_minutes: float | None = option(None, low=0.01, unit="minutes")

    def first_day(self) -> date:
        return self.since or utcnow().date() - timedelta(days=DEFAULT_SINCE_DAYS)

    def runtime(self) -> NotifyOptions:
        return NotifyOptions(
            source=None if self.source in (None, "labels") else self.source,
            dataset=self.dataset, since=self.first_day(),
            kinds=tuple(self.kinds) if self.kinds else KINDS, pages=not self.no_pages,
            dry_run=self.dry_run,
            deadline=(time.monotonic() + self.max_minutes * 60
                      if self.max_minutes is not None else None))


@dataclass
class NotifyRun:
    report: NotifyReport
    channels: list[Any]
    masker: Callable[[str], str]


def run_notify(store: Store | Callable[[], Store], request: NotifyRequest, *,
               home: Callable[[Store], Path], echo: Callable[[str], None]) -> NotifyRun:
    """Send what is owed (what `asaas notify` and a job's notify step both run). The channels
    are checked before the database is opened when ``store`` is a function that opens it."""
    from asaas.fetch import Http, HttpPolicy
    from asaas.notify.deliver import channels_from_settings, masker_from_settings, notify
    from asaas.settings import NotifySettings

    settings = NotifySettings()
    masker = masker_from_settings(settings)
    options = request.runtime()
    # Slack accepts about one message a second per hook: the same polite rate as fetches.
    policy = HttpPolicy(rate_per_s=1.0, timeout_s=settings.timeout_s,
                        attempts=settings.attempts, backoff_s=1.0, max_wait_s=60.0)
    with Http(policy, on_retry=lambda line: echo(f"retry: {masker(line)}")) as http:
        channels = channels_from_settings(settings, http)
        db = store() if callable(store) else store
        report = notify(db, channels, options, home=home(db), masker=masker,
                        echo=lambda line: echo(masker(line)))
    return NotifyRun(report, channels, masker)
