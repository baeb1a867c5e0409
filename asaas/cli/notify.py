"""`asaas notify`: send each new alert once to a webhook and/or by email."""

from __future__ import annotations

from datetime import datetime

import click

from asaas.cli.base import cli, db_option, fail_cleanly, model_home, open_db
from asaas.cli.events import dataset_option, source_option
from asaas.notify.options import DEFAULT_SINCE_DAYS


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
@click.option("--max-minutes", type=click.FloatRange(min=0.01), default=None, metavar="M",
              help="Send no further alert after M minutes; the rest stay owed for the next "
              "run. Default: no limit.")
@source_option
@dataset_option
@db_option
@fail_cleanly
def notify(since: datetime | None, kinds: tuple[str, ...], no_pages: bool, dry_run: bool,
           max_minutes: float | None, source: str, dataset: str | None,
           db_url: str | None) -> None:
    """Send each alert not sent yet to the webhook (ASAAS_WEBHOOK_URL, format
    ASAAS_WEBHOOK_FORMAT slack|json) and/or by email (ASAAS_SMTP_HOST, ASAAS_SMTP_USER,
    ASAAS_SMTP_PASSWORD, ASAAS_MAIL_FROM, ASAAS_MAIL_TO): product, period, size against the
    baseline, distinctive words, a driving review and its HTML page. Sent alerts are recorded
    and never sent again; a failed delivery is retried (ASAAS_NOTIFY_ATTEMPTS), stays owed and
    is tried again by the next run (exit code 1 meanwhile). Secrets are read from the
    environment only and never printed or stored."""
    from asaas.notify.options import NotifyRequest, run_notify

    # The same options as a job's notify step, checked before anything is opened.
    request = NotifyRequest.from_values({
        "since": since.date() if since else None, "kinds": list(kinds) or None,
        "no_pages": no_pages, "dry_run": dry_run, "source": source, "dataset": dataset,
        "max_minutes": max_minutes}, "cli")
    run = run_notify(lambda: open_db(db_url), request, home=model_home,
                     echo=lambda line: click.echo(line, err=True))
    report, masker = run.report, run.masker
    for alert_id, message in report.messages.items():
        if dry_run:
            click.echo(f"would send {alert_id}: {message.size()}")
    for note in report.notes:
        click.echo(f"note: {masker(note)}", err=True)
    for ch in run.channels:
        counts = {s: report.count(s, ch.name) for s in ("sent", "already sent", "failed",
                                                           "not tried", "would send")}
        shown = ", ".join(f"{n:,} {s}" for s, n in counts.items() if n)
        click.echo(f"{ch.where}: {shown or 'nothing to send'} ({report.alerts:,} alerts since "
                   f"{request.first_day()})")
    for name, line in report.failures.items():
        owed = report.count("failed", name) + report.count("not tried", name)
        click.echo(f"Error: {line}; {owed:,} alert{'s' if owed != 1 else ''} stay unsent "
                   "and the next `asaas notify` tries again", err=True)
    if report.failures:
        click.get_current_context().exit(1)
