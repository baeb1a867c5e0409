"""`asaas fetch steam`: new and edited reviews from Steam's API, landed raw, then ingested."""

from __future__ import annotations

import click

from asaas.cli.base import cli, db_option, fail_cleanly, model_home, open_db


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


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
@click.option("--max-pages", type=click.IntRange(min=1), default=None, metavar="N",
              help="At most N pages (100 reviews each) per app in this run; what was fetched is "
              "ingested. Default: until caught up with the database or the end of the list.")
@click.option("--full", is_flag=True,
              help="Walk every page, not only up to the reviews already held: refreshes votes "
              "and answers on old reviews (e.g. weekly).")
@click.option("--dataset", default="steam", show_default=True,
              help="Dataset the reviews are ingested into.")
@db_option
@fail_cleanly
def fetch_steam(appids: tuple[str, ...], language: str, order: str, max_pages: int | None,
                full: bool, dataset: str, db_url: str | None) -> None:
    """Fetch the reviews of Steam apps APPID... (e.g. 440) that are new or changed since the last
    fetch, stopping after a page's worth of reviews already held unchanged
    [ASAAS_FETCH_OVERLAP]. Requests go to ASAAS_STEAM_API_URL at ASAAS_FETCH_RATE per second;
    failed pages are retried (ASAAS_FETCH_ATTEMPTS), and a killed fetch resumes where it
    stopped. Exit code 1 when any app failed (one line each); the others are still fetched."""
    from asaas.fetch import Http, HttpPolicy, SteamFetchOptions
    from asaas.fetch import fetch_steam as run_fetch
    from asaas.fetch.steam import check_appids
    from asaas.settings import FetchSettings

    settings = FetchSettings()
    # Options are checked before the database is opened: a typo never creates a database.
    options = SteamFetchOptions(language=language, filter=order, max_pages=max_pages,
                                dataset=dataset, overlap=settings.overlap, full=full).check()
    ids = check_appids(appids)
    store = open_db(db_url)
    landing = model_home(store) / "landing"
    with Http(HttpPolicy.from_settings(settings),
              on_retry=lambda line: click.echo(f"retry: {line}", err=True)) as http:
        done, failed = run_fetch(store, ids, options, http=http,
                                 base_url=settings.steam_api_url, landing_root=landing,
                                 echo=lambda line: click.echo(line, err=True))
    _report("steam app", done, failed)


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


@fetch.command("play")
@click.argument("app_ids", nargs=-1, required=True, metavar="APP_ID...")
@click.option("--lang", default="en", show_default=True,
              help="Language of the reviews (Google's code: en, de, pt-BR...).")
@click.option("--country", default="us", show_default=True,
              help="Store country whose reviews are listed (two letters: us, de, br...).")
@click.option("--max-pages", type=click.IntRange(min=1), default=None, metavar="N",
              help="At most N pages (100 reviews each) per app in this run; what was fetched is "
              "ingested. Default: until caught up with the database or the end of the list.")
@click.option("--three-stars", type=click.Choice(["unlabelled", "positive", "negative"]),
              default="unlabelled", show_default=True,
              help="What a 3-star review counts as (4-5 stars are positive, 1-2 negative).")
@click.option("--full", is_flag=True,
              help="Walk every page, not only up to the reviews already held: refreshes answers "
              "and votes on old reviews (e.g. weekly).")
@click.option("--dataset", default="googleplay", show_default=True,
              help="Dataset the reviews are ingested into.")
@db_option
@fail_cleanly
def fetch_play(app_ids: tuple[str, ...], lang: str, country: str, max_pages: int | None,
               three_stars: str, full: bool, dataset: str, db_url: str | None) -> None:
    """Fetch the Google Play reviews of apps APP_ID... (package names such as com.example.app)
    that are new or changed since the last fetch, newest first, through google-play-scraper
    (pip install 'asaas[play]'), stopping after a page's worth held unchanged
    [ASAAS_FETCH_OVERLAP]. Pages are landed as JSON, then ingested with --format googleplay.
    Calls are rate-limited (ASAAS_FETCH_RATE), time-limited (ASAAS_FETCH_TIMEOUT) and retried
    (ASAAS_FETCH_ATTEMPTS); a failed page is one Error line per app (exit code 1)."""
    from asaas.fetch.googleplay import PlayClient, PlayFetchOptions, check_app_ids
    from asaas.fetch.googleplay import fetch_play as run_fetch
    from asaas.fetch.http import HttpPolicy
    from asaas.settings import FetchSettings

    settings = FetchSettings()
    options = PlayFetchOptions(lang=lang, country=country, max_pages=max_pages, dataset=dataset,
                               overlap=settings.overlap, full=full,
                               three_stars=three_stars).check()
    ids = check_app_ids(app_ids)
    with PlayClient(HttpPolicy.from_settings(settings),
                    on_retry=lambda line: click.echo(f"retry: {line}", err=True)) as client:
        store = open_db(db_url)
        landing = model_home(store) / "landing"
        done, failed = run_fetch(store, ids, options, client=client, landing_root=landing,
                                 echo=lambda line: click.echo(line, err=True))
        for note in client.notes:
            click.echo(f"note: {note}", err=True)
    _report("google play app", done, failed)
