"""`asaas alerts` (review bombs and sudden shifts) and `asaas responsiveness`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from asaas.cli.base import cli, dataset_option, db_option, fail_cleanly, format_option, open_db
from asaas.cli.events import source_option

#: (option, AlertRule field, type, help); defaults come from AlertRule itself.
_RULE_OPTIONS = (
    ("--baseline-days", "baseline_days", int, "Days before each day that form its baseline."),
    ("--min-history-days", "min_history_days", int,
     "Days of history a product needs before any daily alert."),
    ("--z", "z", float, "Robust z (median + z x MAD-based scale) for daily negatives."),
    ("--min-negative", "min_negative", int, "Fewest negatives a day (or a shift) needs."),
    ("--volume-z", "volume_z", float, "Robust z for daily review volume (positive bombs)."),
    ("--min-volume", "min_volume", int, "Fewest reviews a day needs for a volume alert."),
    ("--merge-gap-days", "merge_gap_days", int,
     "Flagged days this many quiet days apart merge into one alert."),
    ("--platform-share", "platform_share", float,
     "Share of products spiking on one day that makes it a platform day (a sale)."),
    ("--cp-penalty", "cp_penalty", float,
     "Change-point penalty, times log(weeks); higher finds fewer shifts."),
)


def rule_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The alert rule's numbers as options (defaults: asaas.timeline.rules.AlertRule)."""
    from asaas.timeline.rules import AlertRule

    defaults = AlertRule()
    for flag, name, kind, text in reversed(_RULE_OPTIONS):
        func = click.option(flag, name, type=kind, default=None,
                            help=f"{text} [default: {getattr(defaults, name)}]")(func)
    return func


def kind_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--kind", "kinds", multiple=True,
                        type=click.Choice(["negative", "volume", "shift"]),
                        help="Only these kinds of alert (repeatable) [default: all].")(func)


def analysis_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """What every alert and responsiveness command takes: the rule's numbers, --source,
    --dataset, --format and --db (and one-line errors)."""
    for option in reversed((rule_options, source_option, dataset_option, format_option,
                            db_option, fail_cleanly)):
        func = option(func)
    return func


def _rule(kinds: tuple[str, ...], options: dict[str, Any]) -> Any:
    from asaas.timeline.rules import rule_from_options

    return rule_from_options(kinds=tuple(kinds) or None,
                             **{name: options.pop(name) for _, name, _, _ in _RULE_OPTIONS})


@cli.group(invoke_without_command=True)
@click.pass_context
def alerts(ctx: click.Context) -> None:
    """Review bombs and sudden shifts: periods where a product's negatives, volume or negative
    share leave its own baseline. Without a subcommand: `alerts list`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(alerts_list)


@alerts.command("list")
@click.argument("product", required=False)
@click.option("--since", default=None, metavar="DATE", help="Only alerts ending on or after.")
@click.option("--until", default=None, metavar="DATE", help="Only alerts starting on or before.")
@click.option("--explain", is_flag=True,
              help="Add each alert's most distinctive words and one driving review.")
@kind_option
@analysis_options
def alerts_list(product: str | None = None, since: str | None = None, until: str | None = None,
                explain: bool = False, kinds: tuple[str, ...] = (), source: str = "labels",
                dataset: str | None = None, fmt: str = "table", db_url: str | None = None,
                **options: Any) -> None:
    """List alerts (of PRODUCT when given), by product and start."""
    from asaas.tables import Table, format_table
    from asaas.timeline.alerts import alerts_table, detect
    from asaas.timeline.explain import explain as explain_alert

    options = {name: options.get(name) for _, name, _, _ in _RULE_OPTIONS}
    rule = _rule(kinds, options)
    store = open_db(db_url, read_only=True)
    found = detect(store, product=product, source=source, dataset=dataset, rule=rule,
                   since=since, until=until)
    if found.platform_days:
        days = found.platform_days
        shown = ", ".join(d.isoformat() for d in days[:6]) + (" ..." if len(days) > 6 else "")
        click.echo(f"{len(days)} platform-wide days (many products spiking at once, e.g. a "
                   f"sale) are not product alerts: {shown}", err=True)
    if not found.alerts:
        where = f"product {product}" if product else "all products"
        click.echo(f"no alerts ({found.source}; {where})")
        return
    table = alerts_table(found.alerts)
    if explain:
        extra = []
        for alert in found.alerts:
            why = explain_alert(store, alert, source=source, dataset=dataset, rule=rule,
                                n_reviews=1, n_terms=5)
            extra.append((", ".join(r[0] for r in why.terms.rows),
                          why.reviews.rows[0][4] if why.reviews.rows else None))
        table = Table(table.columns + ["top_terms", "example"],
                      [row + more for row, more in zip(table.rows, extra)])
    click.echo(format_table(table, fmt, max_width=80 if fmt != "table" else 60))


@alerts.command("show")
@click.argument("alert_id")
@click.option("--reviews", "n_reviews", type=click.IntRange(min=0), default=10,
              show_default=True, help="Driving reviews to show.")
@click.option("--terms", "n_terms", type=click.IntRange(min=0), default=15, show_default=True,
              help="Distinctive words to show.")
@analysis_options
def alerts_show(alert_id: str, n_reviews: int, n_terms: int, source: str, dataset: str | None,
                fmt: str, db_url: str | None, **options: Any) -> None:
    """One alert (KIND:PRODUCT:YYYY-MM-DD, as `alerts list` names it) with the words and
    reviews that drive it: exactly the alert the list printed, whatever kinds it listed."""
    from asaas.tables import format_table, json_rows
    from asaas.timeline.alerts import alerts_table
    from asaas.timeline.explain import explain as explain_alert

    rule = _rule((), options)  # the id names the kind
    store = open_db(db_url, read_only=True)
    why = explain_alert(store, alert_id, source=source, dataset=dataset, rule=rule,
                        n_reviews=n_reviews, n_terms=n_terms)
    a = why.alert
    if fmt == "json":
        import json

        click.echo(json.dumps({"alert": json_rows(alerts_table([a]))[0],
                               "terms": json_rows(why.terms), "reviews": json_rows(why.reviews),
                               "baseline_reviews": why.baseline_reviews}, indent=2, default=str))
        return
    share = f"{a.share:.1%}" if a.share is not None else "-"
    base = f"{a.baseline_share:.1%}" if a.baseline_share is not None else "-"
    click.echo(f"{a.id}: {a.name or a.product}, {a.kind} alert from {a.start} to {a.end} "
               f"({a.days} day{'s' if a.days != 1 else ''}): {a.n_negative} negative of "
               f"{a.n_reviews} reviews "
               f"(expected {a.expected_negative:.1f}); negative share {share} vs baseline "
               f"{base}; peak {a.peak_day} with {a.peak_negative} negative of "
               f"{a.peak_reviews}. Source: {a.source}.")
    click.echo(f"\nDistinctive words (vs the {why.baseline_reviews} reviews of the baseline):")
    click.echo(format_table(why.terms, fmt) if why.terms.rows else "(none)")
    click.echo("\nDriving reviews:")
    click.echo(format_table(why.reviews, fmt, max_width=160) if why.reviews.rows else "(none)")


@cli.command("responsiveness")
@click.argument("product", required=False)
@click.option("--recoveries", is_flag=True,
              help="List every incident (alert or negative event) with its recovery instead.")
@click.option("--window-days", type=click.IntRange(min=1), default=30, show_default=True,
              help="Days before and after an event that decide whether it was negative.")
@click.option("--horizon-days", type=click.IntRange(min=7), default=182, show_default=True,
              help="How long after an incident's start a recovery still counts.")
@click.option("--min-window-reviews", type=click.IntRange(min=1), default=5, show_default=True,
              help="Fewest reviews a 7-day window needs to count as recovered.")
@analysis_options
def responsiveness(product: str | None, recoveries: bool, window_days: int, horizon_days: int,
                   min_window_reviews: int, source: str, dataset: str | None, fmt: str,
                   db_url: str | None, **options: Any) -> None:
    """Rank products by how they answer negative reviews (share answered, median hours) and how
    fast their negative share recovers after alerts and negative events."""
    from asaas.tables import format_table
    from asaas.timeline import responsiveness as resp

    rule = _rule((), options)  # the kinds are fixed: negative and shift alerts are incidents
    store = open_db(db_url, read_only=True)
    items = resp.recoveries(store, product, source=source, dataset=dataset, rule=rule,
                            window_days=window_days, horizon_days=horizon_days,
                            min_window_reviews=min_window_reviews)
    if recoveries:
        if not items:
            click.echo("no alerts or negative events to recover from")
            return
        click.echo(format_table(resp.recoveries_table(items), fmt))
        return
    table = resp.ranking(store, product, source=source, dataset=dataset, rule=rule,
                         window_days=window_days, items=items)
    if not table.rows:
        click.echo("no reviews with products yet: ingest a source with products first")
        return
    click.echo(format_table(table, fmt))
