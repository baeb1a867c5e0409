"""What `asaas fetch steam`, `asaas fetch play` and a job's fetch step are told: one options type
built from the command's flags and from the step's keys by the same function
(``FetchOptions.from_values``), and one function that runs a fetch (``run_fetch``), so a step
does exactly what the command does."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asaas.errors import ConfigError
from asaas.fetch.steam import AppFetch
from asaas.options import Options, option
from asaas.store import Store

STORES = ("steam", "play")
#: Keys that only one store takes (with the other they are a mistake, not ignored).
_ONLY = {"language": "steam", "filter": "steam", "lang": "play", "country": "play",
         "three_stars": "play"}


def _apps(value: Any, name: str) -> list[str]:
    """App ids: Steam's numbers (a TOML integer or text) or Play's package names."""
    items = value if isinstance(value, (list, tuple)) else None
    if not items or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                            for v in items):
        raise ConfigError(f'{name} must be a list of app ids such as ["440", "730"] or '
                          f'["com.example.app"], not {value!r}')
    return [str(v) for v in items]


@dataclass
class FetchOptions(Options):
    """One fetch of some apps of one store (see ``asaas fetch steam|play --help``)."""

    store: str = option(choices=STORES, example='"steam"')
    apps: list[str] = option(parse=_apps, example='["440"]')
    #: Pages per app in one run (None: until caught up or the end of the list).
    max_pages: int | None = option(None, low=1)
    #: Minutes after which no page is asked for and no app started (None: no limit).
    max_minutes: float | None = option(None, low=0.01, unit="minutes")
    full: bool = option(False)
    #: None: the store's (steam, googleplay).
    dataset: str | None = option(None)
    # Steam
    language: str = option("all")
    filter: str = option("updated", choices=("updated", "recent"))
    # Google Play
    lang: str = option("en")
    country: str = option("us")
    three_stars: str = option("unlabelled", choices=("unlabelled", "positive", "negative"))
    #: Set by code: the overlap setting (ASAAS_FETCH_OVERLAP).
    overlap: int | None = option(None, internal=True)

    def check_given(self, values: Mapping[str, Any], style: str) -> None:
        for key, store in _ONLY.items():
            if values.get(key) is not None and self.store != store:
                where = f'store = "{store}"' if style == "job" else f"asaas fetch {store}"
                raise ConfigError(f"{key} is for {where}, not {self.store}")
        # The store's own checks (app ids, language and country codes) at load time too: a
        # job file with a bad app id is refused before anything runs.
        self.runtime(overlap=1)

    def runtime(self, overlap: int) -> Any:
        """The store's own options (checked: ConfigError names the bad one)."""
        if self.store == "steam":
            from asaas.fetch.steam import SteamFetchOptions, check_appids

            self.apps = check_appids(self.apps)
            return SteamFetchOptions(language=self.language, filter=self.filter,
                                     max_pages=self.max_pages, dataset=self.dataset or "steam",
                                     overlap=overlap, full=self.full).check()
        from asaas.fetch.googleplay import PlayFetchOptions, check_app_ids

        self.apps = check_app_ids(self.apps)
        return PlayFetchOptions(lang=self.lang, country=self.country, max_pages=self.max_pages,
                                dataset=self.dataset or "googleplay", overlap=overlap,
                                full=self.full, three_stars=self.three_stars).check()


@dataclass
class FetchResult:
    label: str
    done: list[AppFetch] = field(default_factory=list)
    #: One line per app that failed.
    failed: list[str] = field(default_factory=list)
    #: Apps not started because the time limit had passed (the next fetch takes them first).
    left: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        """For a job step's record (job_runs)."""
        return {"apps": len(self.done), "failed": len(self.failed), "left": len(self.left),
                "pages": sum(r.pages for r in self.done),
                "reviews": sum(r.reviews for r in self.done),
                "new": sum(r.new for r in self.done),
                "changed": sum(r.changed for r in self.done),
                "ingested": sum(r.ingested for r in self.done),
                "updated": sum(r.updated for r in self.done)}


def run_fetch(store: Store, options: FetchOptions, *, landing_root: Path,
              echo: Callable[[str], None], settings: Any = None) -> FetchResult:
    """Fetch ``options.apps`` (what `asaas fetch` and a job's fetch step both run). The store's
    options are checked before anything is asked for."""
    from asaas.fetch.http import HttpPolicy
    from asaas.settings import FetchSettings

    settings = settings or FetchSettings()
    runtime = options.runtime(settings.overlap)
    deadline = (time.monotonic() + options.max_minutes * 60
                if options.max_minutes is not None else None)
    policy = HttpPolicy.from_settings(settings)

    def retry(line: str) -> None:
        echo(f"retry: {line}")

    from asaas.fetch.steam import fetch_each

    if options.store == "steam":
        from asaas.fetch.http import Http
        from asaas.fetch.steam import SteamFetcher

        with Http(policy, on_retry=retry) as http:
            fetcher = SteamFetcher(store, http, base_url=settings.steam_api_url,
                                   landing_root=landing_root, options=runtime, echo=echo)
            done, failed = fetch_each(fetcher, options.apps, deadline)
        return FetchResult("steam app", done, failed, list(fetcher.left))
    from asaas.fetch.googleplay import PlayClient, PlayFetcher

    with PlayClient(policy, on_retry=retry) as client:
        fetcher = PlayFetcher(store, client, landing_root=landing_root, options=runtime,
                              echo=echo)
        done, failed = fetch_each(fetcher, options.apps, deadline)
        notes = list(client.notes)
    return FetchResult("google play app", done, failed, list(fetcher.left), notes)
