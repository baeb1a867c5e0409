"""`asaas topics`: what a product's negative reviews are about, and each topic over time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from asaas.cli.base import cli, dataset_option, db_option, fail_cleanly, format_option, open_db
from asaas.cli.events import source_option


class _FindByDefault(click.Group):
    """``asaas topics PRODUCT ...`` runs ``asaas topics find PRODUCT ...``: a first word that
    is no subcommand (nor --help) is a product."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["find", *args]
        return super().parse_args(ctx, args)


@cli.group(cls=_FindByDefault)
def topics() -> None:
    """Topics of genuine complaints: `asaas topics PRODUCT [--since] [--until]` (or `--alert
    ID`) groups the negative reviews of a period into topics with keywords and representative
    reviews, stores them, and assigns the product's other negatives to them, so each topic's
    share can be followed over time (`asaas topics series`) and around events (`asaas events
    effects --topic`)."""


def _day(value: datetime | None) -> Any:
    return value.date() if value else None


@topics.command("find")
@click.argument("product", required=False)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
              help="First day of the period (YYYY-MM-DD) [default: the first review].")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
              help="Last day of the period (YYYY-MM-DD) [default: the last review].")
@click.option("--alert", "alert_id", default=None, metavar="ID",
              help="The period of this alert (KIND:PRODUCT:YYYY-MM-DD, as `asaas alerts` "
              "lists it); PRODUCT may then be left out.")
@click.option("--language", default=None, metavar="LANG",
              help="Only reviews in this language (as the source names it, e.g. english).")
@click.option("--embedder", type=click.Choice(["auto", "minilm", "e5"]), default="auto",
              show_default=True, help="auto: MiniLM when every review is English (or of no "
              "recorded language), else multilingual e5.")
@click.option("--distance", type=float, default=0.65, show_default=True,
              help="Cosine distance at which average-linkage clustering stops merging (lower: "
              "more, tighter topics).")
@click.option("--min-size", type=int, default=3, show_default=True,
              help="Fewest reviews a topic needs; smaller groups count as other.")
@click.option("--min-reviews", type=int, default=50, show_default=True,
              help="Fewest negative reviews the period needs.")
@click.option("--top", type=click.IntRange(min=1), default=8, show_default=True,
              help="Topics to show (largest first; the rest count as other).")
@click.option("--no-assign", is_flag=True,
              help="Do not assign the product's other negative reviews to the topics (no "
              "series over time then).")
@click.option("--minilm", "minilm_path", default=None, metavar="DIR",
              help="Folder of the all-MiniLM-L6-v2 sentence encoder [env ASAAS_MINILM; "
              "default: the Hub id].")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for the embedder.")
@source_option
@dataset_option
@format_option
@db_option
@fail_cleanly
def topics_find(product: str | None, since: datetime | None, until: datetime | None,
                alert_id: str | None, language: str | None, embedder: str, distance: float,
                min_size: int, min_reviews: int, top: int, no_assign: bool,
                minilm_path: str | None, threads: int | None, source: str, dataset: str | None,
                fmt: str, db_url: str | None) -> None:
    """Group PRODUCT's negative reviews of a period into topics; store and print them."""
    from asaas.offtopic.embedding import embedder as make_embedder
    from asaas.topics.runs import FindOptions, find_topics, home_of

    opts = FindOptions(since=_day(since), until=_day(until), alert=alert_id, source=source,
                       dataset=dataset, language=language, embedder=embedder,
                       distance=distance, min_size=min_size, min_reviews=min_reviews,
                       assign=not no_assign)
    opts.check()
    store = open_db(db_url)
    home = home_of(store)
    run = find_topics(store, product, opts,
                      embedder_factory=lambda name: make_embedder(name, home=home,
                                                                  threads=threads,
                                                                  path=minilm_path),
                      log=lambda line: click.echo(line, err=True))
    _print_run(run, top, fmt)


def _print_run(run: Any, top: int | None, fmt: str) -> None:
    import json

    from asaas.tables import format_table
    from asaas.topics.runs import topics_table

    table = topics_table(run, top)
    if fmt == "json":
        click.echo(json.dumps({"run": run.id, "product": run.product.external_id,
                               "source": run.source, "period": run.period,
                               "n_reviews": run.n_reviews, "n_assigned": run.n_assigned,
                               "topics": [{"topic": t.no, "reviews": t.n_reviews,
                                           "keywords": t.keywords,
                                           "examples": [{"review_id": i, "text": s}
                                                        for i, s in t.examples]}
                                          for t in run.topics]}, indent=2))
        return
    n_topics = sum(1 for t in run.topics if t.no)
    click.echo(f"topic run {run.id}: {run.n_reviews} negative reviews of {run.product.label} "
               f"from {run.period} ({run.source}"
               + (f", alert {run.alert_id}" if run.alert_id else "")
               + f"; {run.embedder.get('embedder', '?')} embeddings): {n_topics} topics of "
               f"{run.params.get('min_size')}+ reviews"
               + (f"; {run.n_assigned:,} other negatives assigned to them" if run.n_assigned
                  else ""))
    click.echo(format_table(table, fmt, max_width=70))
    if fmt in ("table", "markdown"):
        click.echo("\nRepresentative reviews (nearest each topic's centre):")
        for t in [t for t in run.topics if t.no][:top]:
            for _, text in t.examples:
                click.echo(f"  [{t.no}] {text}")
        click.echo(f"\nFollow a topic: `asaas topics series {run.id}:1`; around events: "
                   f"`asaas events effects {run.product.external_id} --topic {run.id}:1`")


@topics.command("show")
@click.argument("run_id", type=int)
@click.option("--top", type=click.IntRange(min=1), default=None,
              help="Topics to show [default: all].")
@format_option
@db_option
@fail_cleanly
def topics_show(run_id: int, top: int | None, fmt: str, db_url: str | None) -> None:
    """Print a stored topic run."""
    from asaas.topics.runs import get_run

    _print_run(get_run(open_db(db_url, read_only=True), run_id), top, fmt)


@topics.command("list")
@click.argument("product", required=False)
@format_option
@db_option
@fail_cleanly
def topics_list(product: str | None, fmt: str, db_url: str | None) -> None:
    """List stored topic runs (of PRODUCT when given)."""
    from asaas.tables import format_table
    from asaas.topics.runs import list_runs

    table = list_runs(open_db(db_url, read_only=True), product)
    if not table.rows:
        click.echo("no topic runs yet: `asaas topics PRODUCT`")
        return
    click.echo(format_table(table, fmt))


@topics.command("series")
@click.argument("topic_ref", metavar="RUN:TOPIC")
@click.option("--freq", type=click.Choice(["day", "week", "month"]), default="month",
              show_default=True, help="Period length (weeks start on Monday).")
@format_option
@db_option
@fail_cleanly
def topics_series(topic_ref: str, freq: str, fmt: str, db_url: str | None) -> None:
    """A topic's share of the product's negative reviews per period, with 95% Wilson
    intervals (from the view topic_shares)."""
    from asaas.tables import format_table, query
    from asaas.topics.runs import resolve_topic

    store = open_db(db_url, read_only=True)
    run, topic = resolve_topic(store, topic_ref, None)
    table = query(store, "SELECT period_start, n_negative, n_topic, topic_share, ci_low, "
                         "ci_high FROM topic_shares WHERE topic_run_id = :run AND "
                         "topic_no = :t AND freq = :freq ORDER BY period_start",
                  {"run": run.id, "t": topic, "freq": freq})
    info = next(t for t in run.topics if t.no == topic)
    click.echo(f"topic {run.id}:{topic} of {run.product.label} ({info.title}): share of "
               f"the negative reviews per {freq}", err=True)
    click.echo(format_table(table, fmt))


@topics.command("update")
@click.argument("run_id", type=int)
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for the embedder.")
@db_option
@fail_cleanly
def topics_update(run_id: int, threads: int | None, db_url: str | None) -> None:
    """Assign the product's negative reviews that arrived since the run (or were left out with
    --no-assign) to its topics."""
    from asaas.offtopic.embedding import embedder as make_embedder
    from asaas.topics.runs import assign_rest, get_run, home_of

    store = open_db(db_url)
    run = get_run(store, run_id)
    block = run.embedder.get("embedder") or run.params.get("embedder") or "minilm"
    embed, _ = make_embedder(block, home=home_of(store), threads=threads,
                             identity=run.embedder or None)
    n = assign_rest(store, run_id, embed=embed, log=lambda line: click.echo(line, err=True))
    click.echo(f"assigned {n:,} negative reviews of {run.product.label} to the topics of run "
               f"{run_id}")
