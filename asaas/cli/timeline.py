"""`asaas timeline`: one product's negative share over time, observed and per model."""

from __future__ import annotations

from datetime import datetime

import click

from asaas.cli.base import cli, dataset_option, db_option, fail_cleanly, format_option, open_db

COMPACT = ("product", "period_start", "model", "n_reviews", "n_labelled",
           "observed_negative_share", "predicted_negative_share", "corrected_negative_share",
           "corrected_ci_low", "corrected_ci_high", "corrected_reason")


@cli.command()
@click.argument("product")
@click.option("--freq", type=click.Choice(["day", "week", "month"]), default=None,
              help="Period length (weeks start on Monday) [default: the shortest whose median "
                   "period holds 25 reviews or more, month at most].")
@click.option("--model", "models", multiple=True, metavar="NAME[:VERSION]",
              help="Model versions to show (repeatable; latest version when none given). "
                   "Default: the latest version of every model that scored the reviews.")
@dataset_option
@click.option("--language", default="all", show_default=True,
              help="Only reviews in this language (as the source names it, e.g. english); the "
                   "corrected share then uses that language's error rates.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
              help="First day (YYYY-MM-DD); the period holding it is shown whole.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
              help="Last day (YYYY-MM-DD): periods starting after it are left out.")
@click.option("--full", is_flag=True, help="Every column in table/markdown output (Wilson "
              "intervals of the observed and raw shares, mean probability); csv and json "
              "always have them.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML page: the negative share with its bands, "
                   "review volume, events and alerts, one section per product.")
@format_option
@db_option
@fail_cleanly
def timeline(product: str, freq: str | None, models: tuple[str, ...], dataset: str | None,
             language: str, since: datetime | None, until: datetime | None, full: bool,
             html_path: str | None, fmt: str, db_url: str | None) -> None:
    """Negative share of PRODUCT's reviews per day, week or month: from the reviews' labels,
    and per model version raw (classify-and-count) and corrected for the model's error rates,
    with 95% intervals. PRODUCT is a product id, a name (or an unambiguous part of one), or
    `all`."""
    from asaas.tables import format_table
    from asaas.timeline.series import timeline as read_timeline

    store = open_db(db_url, read_only=True)  # a read command never creates a database
    series = read_timeline(store, product, freq=freq, models=models, dataset=dataset,
                           language=language, since=since.date() if since else None,
                           until=until.date() if until else None)
    if html_path:  # first, so that a page that cannot be drawn fails before printing
        from asaas.timeline.page import write_timeline_html

        write_timeline_html(store, html_path, series)
    if series.freq_reason:
        click.echo(series.freq_reason, err=True)
    table = series.table
    if not series.versions:
        click.echo(f"no model has scored {series.dataset} reviews of products yet: showing "
                   f"the labels only (run `asaas score --model NAME --dataset {series.dataset} "
                   "--split all`)", err=True)
    if table.rows:
        if fmt in ("table", "markdown") and not full and series.versions:
            table = table.select(COMPACT)
        click.echo(format_table(table, fmt))
    for p, first, last in series.empty:
        window = " ".join(part for part in (since and f"from {since:%Y-%m-%d}",
                                            until and f"until {until:%Y-%m-%d}") if part)
        when = (f"its reviews run from {first:%Y-%m-%d} to {last:%Y-%m-%d}" if first
                else "it has none")
        click.echo(f"no {series.dataset} reviews of {p.label}"
                   f"{' in language ' + language if language != 'all' else ''}"
                   f"{' ' + window if window else ''} ({when})", err=not table.rows)
    if html_path:
        click.echo(f"wrote {html_path}", err=True)
