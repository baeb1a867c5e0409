"""`asaas views`, `report`, `disagreements` and `sql`: read the predictions."""

from __future__ import annotations

from typing import Any

import click

from asaas.cli.base import cli, dataset_option, db_option, fail_cleanly, format_option, open_db
from asaas.settings import DEFAULT_SPLIT


@cli.group()
def views() -> None:
    """Manage the SQL views in sql/ (metrics, curves, disagreements...)."""


@views.command("install")
@db_option
@fail_cleanly
def views_install(db_url: str | None) -> None:
    """(Re)install every view from sql/ with CREATE OR REPLACE VIEW."""
    from asaas.views import install_views

    names = install_views(open_db(db_url))
    click.echo(f"installed {len(names)} views: {', '.join(names)}")


@cli.command()
@click.option("--split", default=None, help=f"Split to report, or all [default: {DEFAULT_SPLIT}].")
@dataset_option
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="Only these models (repeatable). Default: every model.")
@click.option("--latest", is_flag=True, help="Only the latest version of each model.")
@click.option("--full", is_flag=True, help="All metric columns in table, markdown and html "
              "output (csv and json always have them).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report with plots to this file.")
@click.option("--by", type=click.Choice(["version", "language"]), default="version",
              show_default=True,
              help="language: a row per version and language (balanced accuracy and ROC AUC "
              "with 95% intervals, the threshold the labels were made at), from the "
              "metrics_by_language view.")
@click.option("--min-reviews", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --by language: only languages with at least N scored labelled reviews "
              "(e.g. 300).")
@format_option
@db_option
@fail_cleanly
def report(full: bool, html_path: str | None, fmt: str, db_url: str | None,
           **flags: Any) -> None:
    """Compare model versions: accuracy, F1, ROC AUC, calibration... from the SQL views, each
    with a note on what it rests on, and every two versions paired on the reviews both scored
    (McNemar). Every format (and a job's report step) shows the same report. --by language: a
    row per version and language."""
    from asaas.errors import ConfigError
    from asaas.options import ReportOptions
    from asaas.report import build_report, format_report

    options = ReportOptions.from_values(flags, "cli")  # as a job's report step builds them
    store = open_db(db_url, read_only=True)
    if options.by == "language":
        if html_path:
            raise ConfigError("--html draws the report by version; drop --by language "
                              "(or --html)")
        _report_by_language(store, options, full, fmt)
        return
    built = build_report(store, options)
    if html_path:  # first, so that a report that cannot be drawn fails before printing
        from asaas.report_page import write_html_report

        write_html_report(store, html_path, built, full=full)
    click.echo(format_report(built, fmt, full=full))
    if html_path:
        click.echo(f"wrote {html_path}", err=True)


def _report_by_language(store: Any, options: Any, full: bool, fmt: str) -> None:
    from asaas.report_languages import format_languages_report, languages_report

    table = languages_report(store, **options.query(), min_reviews=options.min_reviews)
    if not table.rows and fmt in ("table", "markdown"):
        click.echo("no predictions on labelled reviews with a language recorded"
                   + (f" and at least {options.min_reviews} reviews" if options.min_reviews
                      else "")
                   + ": score a dataset that records languages (e.g. --format steam), with "
                   "--language all or a multilingual model")
        return
    click.echo(format_languages_report(table, fmt, full=full))


@cli.command()
@click.argument("model_a")
@click.argument("model_b")
@click.option("--split", default=None, help=f"Split, or all [default: {DEFAULT_SPLIT}].")
@dataset_option
@click.option("--limit", type=int, default=None,
              help="Most reviews to show, the most confident disagreements first [default: 20].")
@click.option("--wrong-only", is_flag=True, help="Only reviews MODEL_A got wrong.")
@format_option
@db_option
@fail_cleanly
def disagreements(model_a: str, model_b: str, fmt: str, db_url: str | None,
                  **flags: Any) -> None:
    """Reviews on which two models disagree (NAME or NAME:VERSION; latest by default)."""
    from asaas.options import DisagreementsOptions
    from asaas.report import disagreements_report
    from asaas.tables import format_table

    options = DisagreementsOptions.from_values(flags, "cli")
    split, dataset = options.split, options.dataset
    store = open_db(db_url, read_only=True)
    table, shared = disagreements_report(store, model_a, model_b, split=split, dataset=dataset,
                                         limit=options.limit, wrong_only=options.wrong_only)
    where = f"{dataset}/{split}" if split != "all" else dataset
    summary = f"{model_a} and {model_b}: compared on the {shared:,} {where} reviews both scored"
    if not shared:
        summary += ": there are none, so nothing to compare; score the same split with both"
    elif not table.rows:
        summary += "; no disagreements"
    machine = fmt in ("csv", "csv-raw", "json")
    # For csv and json the summary goes to stderr, so their output stays machine-readable (and is
    # printed even when empty).
    click.echo(summary + (":" if table.rows else ""), err=machine)
    if table.rows or machine:
        click.echo(format_table(table, fmt))


@cli.command("sql")
@click.argument("query_text", metavar="QUERY")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0), default=None,
              metavar="SECONDS", help="Cancel the query after this many seconds, on the server "
              "too (0: no limit) [env ASAAS_SQL_TIMEOUT; default 60].")
@click.option("--max-rows", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Print at most this many rows (0: all); a note on stderr says when the "
              "query returned more.")
@format_option
@db_option
@fail_cleanly
def sql_command(query_text: str, timeout_s: float | None, max_rows: int, fmt: str,
                db_url: str | None) -> None:
    """Run one read-only SQL query against the database's tables and views.

    Exactly one SELECT / WITH ... SELECT / VALUES / EXPLAIN / DESCRIBE / SHOW / SUMMARIZE
    statement, using only functions and constructs known to be harmless (aggregates, window,
    string, date, math, JSON functions, casts to plain types, CASE, CTEs...); anything else is
    refused. The query runs where it cannot write, read files or call admin functions (DuckDB:
    a read-only, locked sandbox; PostgreSQL: a rolled-back read-only transaction as role
    asaas_reader), within the time limit; SIGTERM and Ctrl-C cancel it on the server.
    """
    from asaas.report import run_user_sql
    from asaas.settings import Settings
    from asaas.tables import format_table

    timeout = Settings().sql_timeout_s if timeout_s is None else timeout_s
    table, cut = run_user_sql(open_db(db_url, read_only=True), query_text, timeout_s=timeout,
                              max_rows=max_rows)
    click.echo(format_table(table, fmt) if table.columns else "(no rows)")
    if cut:
        click.echo(f"asaas sql: showing the first {max_rows:,} rows; the query returned more "
                   "(--max-rows N for more, 0 for all)", err=True)
