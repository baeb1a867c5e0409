"""`asaas events`: record product events and measure their effect on the negative share."""

from __future__ import annotations

import json

import click

from asaas.cli.base import cli, dataset_option, db_option, fail_cleanly, format_option, open_db


def source_option(func):
    """``--source labels|MODEL[:VERSION]``: which negatives the series counts."""
    return click.option(
        "--source", default="labels", show_default=True, metavar="labels|MODEL[:VERSION]",
        help="Count negatives from the reviews' own labels (Steam: the recommend flag) or from a "
             "model version's predictions (latest version when none is given).")(func)


@cli.group()
def events() -> None:
    """Product events (releases, patches, responses...) and their effect on sentiment."""


@events.command("add")
@click.argument("product")
@click.option("--at", "at", required=True, metavar="DATE",
              help="When: YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS], UTC unless an offset is given.")
@click.option("--kind", required=True, help="Kind of event, e.g. patch, price, release.")
@click.option("--title", required=True, help="What happened, in a few words.")
@click.option("--details", default=None, metavar="JSON",
              help="Extra facts as a JSON object, e.g. '{\"version\": \"1.2\"}'.")
@dataset_option
@db_option
@fail_cleanly
def events_add(product: str, at: str, kind: str, title: str, details: str | None,
               dataset: str | None, db_url: str | None) -> None:
    """Record one event of PRODUCT (external id such as a Steam app id, or name; --dataset
    when the id is in several datasets)."""
    from asaas.timeline.events import EventError, add_event

    parsed = None
    if details is not None:
        try:
            parsed = json.loads(details)
        except json.JSONDecodeError:
            raise EventError("--details is not valid JSON; pass an object such as "
                             "'{\"version\": \"1.2\"}'") from None
    event = add_event(open_db(db_url), product, at, kind, title, details=parsed,
                      dataset=dataset)
    click.echo(f"event {event.id}: {event.kind} of {event.product} at {event.occurred_at}")


@events.command("import")
@click.argument("path", type=click.Path(dir_okay=True), metavar="FILE")
@dataset_option
@db_option
@fail_cleanly
def events_import(path: str, dataset: str | None, db_url: str | None) -> None:
    """Import events from a CSV (product,at,kind,title[,details]) or JSON Lines FILE; a bad row
    stops the import before anything is written."""
    from asaas.timeline.events import import_events

    report = import_events(open_db(db_url), path, dataset=dataset)
    click.echo(f"imported {report.inserted} events from {report.path} "
               f"({report.already_present} already present)")


@events.command("derive")
@dataset_option
@db_option
@fail_cleanly
def events_derive(dataset: str | None, db_url: str | None) -> None:
    """Derive early-access releases and first developer responses from the reviews (safe to
    rerun: derived events follow the data)."""
    from asaas.timeline.events import derive_events

    click.echo(derive_events(open_db(db_url), dataset=dataset).summary())


@events.command("list")
@click.argument("product", required=False)
@click.option("--kind", "kinds", multiple=True, help="Only events of this kind (repeatable).")
@click.option("--event-source", "sources", multiple=True,
              type=click.Choice(["manual", "import", "derived"]),
              help="Only events recorded this way (repeatable).")
@dataset_option
@format_option
@db_option
@fail_cleanly
def events_list(product: str | None, kinds: tuple[str, ...], sources: tuple[str, ...],
                dataset: str | None, fmt: str, db_url: str | None) -> None:
    """List events, oldest first (of PRODUCT when given)."""
    from asaas.tables import format_table
    from asaas.timeline.events import events_table, list_events

    store = open_db(db_url, read_only=True)
    found = list_events(store, product=product, kinds=kinds or None, sources=sources or None,
                        dataset=dataset)
    if not found:
        click.echo("no events yet: `asaas events derive`, `asaas events add` or "
                   "`asaas events import FILE` record some")
        return
    click.echo(format_table(events_table(found), fmt))


@events.command("effects")
@click.argument("product", required=False)
@click.option("--window-days", type=click.IntRange(min=1), default=30, show_default=True,
              help="Days before and after the event compared (the event's day is in neither).")
@click.option("--its-days", type=click.IntRange(min=1), default=182, show_default=True,
              help="Days on each side for the segmented regression.")
@click.option("--freq", type=click.Choice(["week", "day"]), default="week", show_default=True,
              help="Periods of the segmented regression, counted from the event.")
@click.option("--kind", "kinds", multiple=True, help="Only events of this kind (repeatable).")
@click.option("--full", is_flag=True, help="Every column in table/markdown output.")
@click.option("--topic", default=None, metavar="RUN:TOPIC",
              help="Measure a complaint topic's share of the negative reviews instead of the "
              "negative share (a topic of `asaas topics`; TOPIC alone: the product's latest "
              "run).")
@source_option
@dataset_option
@format_option
@db_option
@fail_cleanly
def events_effects(product: str | None, window_days: int, its_days: int, freq: str,
                   kinds: tuple[str, ...], full: bool, source: str, dataset: str | None, fmt: str,
                   db_url: str | None, topic: str | None = None) -> None:
    """Each event's effect on the negative share (or with --topic, on a complaint topic's share
    of the negatives): before vs after with a 95% interval, and an interrupted time series
    (level and trend change, Newey-West intervals)."""
    from asaas.tables import format_table
    from asaas.timeline.effects import COMPACT_EFFECT_COLUMNS, effects_table, event_effects

    store = open_db(db_url, read_only=True)
    found = event_effects(store, product, source=source, window_days=window_days,
                          its_days=its_days, freq=freq, kinds=kinds or None, dataset=dataset,
                          topic=topic)
    if not found:
        click.echo("no events to measure: `asaas events derive` or `asaas events add` first")
        return
    table = effects_table(found)
    compact = fmt in ("table", "markdown") and not full
    click.echo(format_table(table.select(COMPACT_EFFECT_COLUMNS) if compact else table, fmt))
