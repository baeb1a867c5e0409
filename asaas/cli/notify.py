"""`asaas notify`: send each new alert once to a webhook and/or by email."""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from asaas.cli.base import cli, db_option, fail_cleanly, model_home, open_db
from asaas.cli.events import dataset_option, source_option

#: Alerts ending this many days before today or later are "new" when --since is not given.
DEFAULT_SINCE_DAYS = 14


@cli.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
              help="Only alerts ending on or after DATE (YYYY-MM-DD). Default: "
              f"{DEFAULT_SINCE_DAYS} days ago, so a first run does not send years of history.")
@click.option("--kind", "kinds", multiple=True,
              type=click.Choice(["negative", "volume", "shift"]),
              help="Send only these kinds (repeatable) [default: all]. Alerts are always "
              "detected with every kind, which keeps their ids stable.")
@click.option("--no-pages", is_flag=True,
              help="Do not write each alert's HTML page (ASAAS_HOME/alerts/).")
@click.option("--dry-run", is_flag=True,
              help="Show what would be sent; send and record nothing.")
@source_option
@dataset_option
@db_option
@fail_cleanly
def notify(since: datetime | None, kinds: tuple[str, ...], no_pages: bool, dry_run: bool,
           source: str, dataset: str | None, db_url: str | None) -> None:
    """Send each alert not sent yet to the webhook (ASAAS_WEBHOOK_URL, format
    ASAAS_WEBHOOK_FORMAT slack|json) and/or by email (ASAAS_SMTP_HOST, ASAAS_SMTP_USER,
    ASAAS_SMTP_PASSWORD, ASAAS_MAIL_FROM, ASAAS_MAIL_TO): product, period, size against the
    baseline, distinctive words, a driving review and its HTML page. Sent alerts are recorded
    and never sent again; a failed delivery is retried (ASAAS_NOTIFY_ATTEMPTS), stays owed and
    is tried again by the next run (exit code 1 meanwhile). Secrets are read from the
    environment only and never printed or stored."""
    from asaas.fetch import Http, HttpPolicy
    from asaas.notify import NotifyOptions, channels_from_settings, masker_from_settings
    from asaas.notify import notify as run_notify
    from asaas.settings import NotifySettings

    settings = NotifySettings()
    masker = masker_from_settings(settings)
    from asaas.clock import utcnow

    first = since.date() if since else utcnow().date() - timedelta(days=DEFAULT_SINCE_DAYS)
    options = NotifyOptions(source=None if source == "labels" else source, dataset=dataset,
                            since=first, kinds=tuple(kinds) or ("negative", "volume", "shift"),
                            pages=not no_pages, dry_run=dry_run)
    # Slack accepts about one message a second per hook: the same polite rate as fetches.
    policy = HttpPolicy(rate_per_s=1.0, timeout_s=settings.timeout_s,
                        attempts=settings.attempts, backoff_s=1.0, max_wait_s=60.0)
    with Http(policy, on_retry=lambda line: click.echo(f"retry: {masker(line)}", err=True)
              ) as http:
        channels = channels_from_settings(settings, http)
        store = open_db(db_url)
        report = run_notify(store, channels, options, home=model_home(store), masker=masker,
                            echo=lambda line: click.echo(line, err=True))
    for alert_id, message in report.messages.items():
        if dry_run:
            click.echo(f"would send {alert_id}: {message.size()}")
    for note in report.notes:
        click.echo(f"note: {masker(note)}", err=True)
    for ch in channels:
        counts = {s: report.count(s, ch.name) for s in ("sent", "already sent", "failed",
                                                           "not tried", "would send")}
        shown = ", ".join(f"{n:,} {s}" for s, n in counts.items() if n)
        click.echo(f"{ch.where}: {shown or 'nothing to send'} ({report.alerts:,} alerts since "
                   f"{first})")
    for name, line in report.failures.items():
        owed = report.count("failed", name) + report.count("not tried", name)
        click.echo(f"Error: {line}; {owed:,} alert{'s' if owed != 1 else ''} stay unsent "
                   "and the next `asaas notify` tries again", err=True)
    if report.failures:
        click.get_current_context().exit(1)
