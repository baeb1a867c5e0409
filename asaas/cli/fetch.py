"""`asaas fetch steam|play`: new and edited reviews from a store, landed raw, then ingested."""

from __future__ import annotations

from typing import Any

import click

from asaas.cli.base import cli, db_option, fail_cleanly, model_home, open_db


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _common(func: Any) -> Any:
    """The options both stores take (a job's fetch step takes them as keys)."""
    for decorator in reversed((
            click.option("--max-pages", type=click.IntRange(min=1), default=None, metavar="N",
                         help="At most N pages (100 reviews each) per app in this run; what "
                         "was fetched is ingested. Default: until caught up with the database "
                         "or the end of the list."),
            click.option("--max-minutes", type=click.FloatRange(min=0.01), default=None,
                         metavar="M",
                         help="Ask for no page and start no app after M minutes; what was "
                         "fetched is ingested and the next fetch goes on from there (the apps "
                         "fetched longest ago come first). Default: no limit."),
            click.option("--full", is_flag=True,
                         help="Walk every page, not only up to the reviews already held: "
                         "refreshes votes and answers on old reviews (e.g. weekly)."),
            click.option("--dataset", default=None,
                         help="Dataset the reviews are ingested into [default: steam, or "
                         "googleplay for play]."),
            db_option, fail_cleanly)):
        func = decorator(func)
    return func


@cli.group()
def fetch() -> None:
    """Fetch new and edited reviews from a store's API: every page is kept raw in the landing
    folder (ASAAS_HOME/landing), then ingested. Run it from cron to keep a database live."""


@fetch.command("steam")
@click.argument("appids", nargs=-1, required=True, metavar="APPID...")
@click.option("--language", default="all", show_default=True,
              help="Steam language code of the reviews to fetch (english, schinese...) or all.")
@click.option("--filter", "order", type=click.Choice(["updated", "recent"]), default="updated",
              show_default=True,
              help="updated: newest created or edited reviews first (sees edits and flipped "
              "recommendations); recent: newest created first.")
@_common
def fetch_steam(appids: tuple[str, ...], language: str, order: str, **params: Any) -> None:
    """Fetch the reviews of Steam apps APPID... (e.g. 440) that are new or changed since the last
    fetch, stopping after a page's worth of reviews already held unchanged
    [ASAAS_FETCH_OVERLAP]. Requests go to ASAAS_STEAM_API_URL at ASAAS_FETCH_RATE per second;
    failed pages are retried (ASAAS_FETCH_ATTEMPTS), and a killed fetch resumes where it
    stopped. Exit code 1 when any app failed (one line each); the others are still fetched."""
    _run("steam", list(appids), {"language": language, "filter": order, **params})


@fetch.command("play")
@click.argument("app_ids", nargs=-1, required=True, metavar="APP_ID...")
@click.option("--lang", default="en", show_default=True,
              help="Language of the reviews (Google's code: en, de, pt-BR...).")
@click.option("--country", default="us", show_default=True,
              help="Store country whose reviews are listed (two letters: us, de, br...).")
@click.option("--three-stars", type=click.Choice(["unlabelled", "positive", "negative"]),
              default="unlabelled", show_default=True,
              help="What a 3-star review counts as (4-5 stars are positive, 1-2 negative).")
@_common
def fetch_play(app_ids: tuple[str, ...], **params: Any) -> None:
    """Fetch the Google Play reviews of apps APP_ID... (package names such as com.example.app)
    that are new or changed since the last fetch, newest first, through google-play-scraper
    (pip install 'asaas[play]'), stopping after a page's worth held unchanged
    [ASAAS_FETCH_OVERLAP]. Pages are landed as JSON, then ingested with --format googleplay.
    Calls are rate-limited (ASAAS_FETCH_RATE), time-limited (ASAAS_FETCH_TIMEOUT) and retried
    (ASAAS_FETCH_ATTEMPTS); a failed page is one Error line per app (exit code 1)."""
    _run("play", list(app_ids), params)


def _run(store_name: str, apps: list[str], params: dict[str, Any]) -> None:
    from asaas.fetch.options import FetchOptions, run_fetch
    from asaas.settings import FetchSettings

    db_url = params.pop("db_url")
    settings = FetchSettings()
    # The same options as a job's fetch step; checked, and the store's library found, before
    # the database is opened: a typo never creates a database.
    options = FetchOptions.from_values({"store": store_name, "apps": apps, **params}, "cli")
    options.runtime(settings.overlap)
    if store_name == "play":
        from asaas.fetch.googleplay import import_scraper

        import_scraper()
    store = open_db(db_url)
    result = run_fetch(store, options, landing_root=model_home(store) / "landing",
                       echo=lambda line: click.echo(line, err=True), settings=settings)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    _report(result.label, result.done, result.failed)


def _report(label: str, done: list, failed: list[str]) -> None:
    """One line per app fetched, its rejections and landing folder; one Error line per app
    that failed (exit code 1)."""
    from asaas.store.urls import mask_secrets

    for r in done:
        extra = []
        if r.resumed:
            extra.append("resumed")
        if r.flushed:
            extra.append(f"ingested earlier fetch {', '.join(r.flushed)} first")
        click.echo(
            f"{label} {r.appid}: {_n(r.pages, 'page')} in {_n(r.requests, 'request')} "
            f"({_n(r.retries, 'retry', 'retries')}), {r.reviews:,} reviews: {r.new:,} new, "
            f"{r.changed:,} changed, {r.unchanged:,} held unchanged; {r.stopped}; "
            f"ingested {r.ingested:,}" + (f", updated {r.updated:,}" if r.updated else "")
            + (f" (ingest run {r.ingest_run_id})" if r.ingest_run_id else "")
            + f" in {r.duration_s:.1f} s" + (f" [{'; '.join(extra)}]" if extra else ""))
        for reason, n in r.rejected.items():
            where = ", ".join(r.examples.get(reason, [])[:2])
            click.echo(f"  rejected {n:,}: {reason} (e.g. {where})")
        click.echo(f"  landed in {r.run}")
    for line in failed:
        click.echo(f"Error: {mask_secrets(line)}", err=True)
    if failed:
        click.get_current_context().exit(1)
