"""Fetch reviews from Google Play through google-play-scraper (``pip install 'asaas[play]'``),
land every page, then ingest them through the ``googleplay`` format preset.

The walk, the landing folder, the stop rule and the ingest are Steam's (asaas.fetch.steam): the
newest reviews first (``Sort.NEWEST``; Play dates a review by its latest edit, so edits come
first too), ``per_page`` reviews per page, until ``overlap`` reviews in a row are held
unchanged, the end of the list, or ``--max-pages``; a killed fetch resumes from its last
continuation token. What is Play's own, and why:

- The library (MIT, 1.2.7) is called, never its private request code; ``reviews()`` returns
  the page and a continuation token. Its dates are naive local times (``datetime.fromtimestamp``):
  landed as UTC ISO 8601.
- Importing it sets ``ssl._create_default_https_context`` to the unverified context for the whole
  process: ``import_scraper`` puts the verifying one back at once, and the library's own
  requests then verify certificates too (urllib reads that hook at each request).
- ``reviews()`` swallows every error and returns what it has with a None token, so a failure
  reads like the end of the list. The library's page function (``_fetch_review_items``) is
  watched during each call: an error it raised is a failed page, retried with backoff (the
  fetch's retry settings) and then one line naming the app and the page; nothing is ingested.
  A library whose internals moved (no such function) is still used, with a note that failures
  cannot be told from the end.
- It sets no time-out: each call runs with ``socket.setdefaulttimeout(ASAAS_FETCH_TIMEOUT)``.
  It retries a failed request 3 times itself and sleeps 5, 10, 15 s when Google says "rate
  exceeded": one page can take that long.
- Requests go through one rate limiter per fetch (``ASAAS_FETCH_RATE``), one call per slot.

The tests run at the library's documented boundary (``google_play_scraper.reviews`` replaced by
recorded-shape pages, and its request function replaced by one that fails), never the network.
"""

from __future__ import annotations

import json
import random
import re
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import tenacity
from pyrate_limiter import InMemoryBucket, Limiter, Rate

from asaas.clock import utcnow
from asaas.errors import ConfigError
from asaas.fetch.http import FetchError, HttpPolicy, Retryable, pause
from asaas.fetch.landing import FetchRun
from asaas.fetch.steam import AppFetch, SteamFetcher, _Page, _time, check_walk, fetch_each

SOURCE = "googleplay"
HOST = "play.google.com"
PER_PAGE = 100

#: What every review dict must carry to be stored and compared.
REQUIRED = ("reviewId", "score", "at")

#: The library's names for times, given as naive local datetimes.
TIME_KEYS = ("at", "repliedAt")

THREE_STARS = {"unlabelled": None, "positive": 1, "negative": 0}

UNWATCHED = ("google-play-scraper has no _fetch_review_items (its internals changed): a failed "
             "request cannot be told from the end of the list; check the counts")

_APP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
_COUNTRY = re.compile(r"^[a-z]{2}$")


class PlayFetchError(FetchError):
    """The fetch of one app failed; the message names the app and the page."""


def import_scraper() -> Any:
    """google_play_scraper, imported with the process's certificate checks kept (it turns them
    off when imported); ConfigError naming the extra when it is not installed."""
    before = ssl._create_default_https_context
    try:
        import google_play_scraper
    except ImportError:
        raise ConfigError("asaas fetch play needs google-play-scraper: pip install "
                          "'asaas[play]'") from None
    finally:
        ssl._create_default_https_context = before
    return google_play_scraper


@dataclass(frozen=True)
class PlayFetchOptions:
    lang: str = "en"
    country: str = "us"
    max_pages: int | None = None
    dataset: str = "googleplay"
    overlap: int = 100
    full: bool = False
    #: What a 3-star review is: unlabelled (the preset's rule), positive or negative.
    three_stars: str = "unlabelled"
    per_page: int = PER_PAGE

    def check(self) -> PlayFetchOptions:
        if not _LANG.match(self.lang):
            raise ConfigError(f"--lang {self.lang!r} is not a language code; use e.g. en, de, "
                              "pt-BR")
        if not _COUNTRY.match(self.country):
            raise ConfigError(f"--country {self.country!r} is not a two-letter country code; "
                              "use e.g. us, de, br")
        if self.three_stars not in THREE_STARS:
            raise ConfigError(f"--three-stars {self.three_stars!r}: use unlabelled, positive or "
                              "negative")
        if not 1 <= self.per_page <= 200:
            raise ConfigError("per_page must be 1 to 200 (Google answers at most 200 a call)")
        check_walk(self.max_pages, self.overlap, self.dataset, "googleplay")
        return self

    def params(self) -> dict[str, Any]:
        """What makes two fetches the same walk (a resumed fetch must keep them)."""
        return {"lang": self.lang, "country": self.country, "sort": "newest",
                "count": self.per_page, "three_stars": self.three_stars}


def check_app_ids(app_ids: Sequence[str]) -> list[str]:
    """Package names as Play writes them (com.example.app), duplicates dropped."""
    out: list[str] = []
    for raw in app_ids:
        app_id = str(raw).strip()
        if not _APP_ID.match(app_id) or len(app_id) > 200:
            raise ConfigError(f"{raw!r} is not a Google Play app id (a package name such as "
                              "com.example.app, from play.google.com/store/apps/details?id=...)")
        if app_id not in out:
            out.append(app_id)
    if not out:
        raise ConfigError("name at least one app id, e.g. `asaas fetch play com.example.app`")
    return out


def utc_text(value: Any) -> Any:
    """A naive local datetime of the library as UTC ISO 8601 text (other values as they are)."""
    if isinstance(value, datetime):
        moment = value.astimezone(timezone.utc)  # naive: this machine's local time
        return moment.isoformat()
    return value


def landed_record(review: dict[str, Any]) -> dict[str, Any]:
    """One review of the library's output as JSON can hold it (times in UTC)."""
    return {key: utc_text(value) if key in TIME_KEYS else value for key, value in review.items()}


def review_row(record: dict[str, Any], three_stars: int | None = None) -> dict[str, Any]:
    """A landed review as ``reviews`` columns, normalised the way ingest stores them."""
    from asaas.ingest import parse_time

    score = record.get("score")
    label = None
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        label = 1 if score >= 4 else 0 if score <= 2 else three_stars
    reply = record.get("replyContent")
    return {
        "external_id": str(record["reviewId"]).strip(),
        "text": str(record.get("content") or ""),
        "label": label,
        "rating": float(score) if isinstance(score, (int, float)) else None,
        "developer_response": reply if isinstance(reply, str) and reply.strip() else None,
        "developer_responded_at": _time(record.get("repliedAt"), parse_time),
        "review_updated_at": _time(record.get("at"), parse_time),
        "votes_up": record.get("thumbsUpCount"),
    }


class PlayClient:
    """Calls the library: one rate-limited, time-limited, watched call per page, retried."""

    def __init__(self, policy: HttpPolicy, *, sleep: Callable[[float], None] | None = None,
                 on_retry: Callable[[str], None] | None = None) -> None:
        self.policy = policy
        self._sleep = sleep or (lambda seconds: pause(seconds))
        self._on_retry = on_retry
        self.gps = import_scraper()
        self._limiter = Limiter(InMemoryBucket([Rate(1, max(1, round(1000 / policy.rate_per_s)))]),
                                buffer_ms=0)
        #: Library calls (retries included) and retries, for reports.
        self.requests = 0
        self.retries = 0
        self.notes: list[str] = []

    def close(self) -> None:
        self._limiter.close()

    def __enter__(self) -> PlayClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def token(self, options: PlayFetchOptions, text: str | None) -> Any:
        """The library's continuation token for a resumed walk (its class is private; without
        it the walk starts again from the newest review)."""
        if not text or text == "*":
            return None
        from google_play_scraper.features import reviews as feature

        cls = getattr(feature, "_ContinuationToken", None)
        if cls is None:
            self.notes.append("google-play-scraper has no _ContinuationToken: a resumed fetch "
                              "starts again from the newest review")
            return None
        return cls(text, options.lang, options.country, self.gps.Sort.NEWEST.value,
                   options.per_page, None, None)

    def page(self, app_id: str, options: PlayFetchOptions, token: Any, what: str,
             check: Callable[[list[Any]], list[dict[str, Any]]]
             ) -> tuple[list[dict[str, Any]], Any, int]:
        """(reviews, next token, tries) of one page; ``check`` may raise Retryable for a page
        that came back malformed. FetchError naming ``what`` once the tries are spent."""
        tries = 0

        def once() -> tuple[list[dict[str, Any]], Any]:
            nonlocal tries
            tries += 1
            reviews, next_token = self._call(app_id, options, token)
            return check(reviews), next_token

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(Retryable), sleep=self._sleep,
            before_sleep=self._note_retry(what), reraise=True)
        try:
            reviews, next_token = retrying(once)
        except Retryable as exc:
            raise PlayFetchError(f"{what}: {exc.reason} (tried {tries} "
                                 f"{'time' if tries == 1 else 'times'})", exc, tries) from None
        return reviews, next_token, tries

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Exponential backoff with jitter, as asaas.fetch.http waits."""
        backoff = min(60.0, self.policy.backoff_s * 2 ** (state.attempt_number - 1))
        return backoff + random.uniform(0, self.policy.backoff_s)

    def _note_retry(self, what: str) -> Callable[[tenacity.RetryCallState], None]:
        def note(state: tenacity.RetryCallState) -> None:
            self.retries += 1
            if self._on_retry is not None and state.outcome is not None:
                exc = state.outcome.exception()
                self._on_retry(f"{what}: {getattr(exc, 'reason', exc)}; try "
                               f"{state.attempt_number + 1} of {self.policy.attempts}")
        return note

    def _call(self, app_id: str, options: PlayFetchOptions, token: Any
              ) -> tuple[list[dict[str, Any]], Any]:
        from google_play_scraper.features import reviews as feature

        self._limiter.try_acquire(HOST)
        self.requests += 1
        failures: list[BaseException] = []
        real = getattr(feature, "_fetch_review_items", None)
        if real is not None:
            def watched(*args: Any, **kwargs: Any) -> Any:
                try:
                    return real(*args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - the library swallows it: keep it
                    failures.append(exc)
                    raise
            feature._fetch_review_items = watched
        elif UNWATCHED not in self.notes:
            self.notes.append(UNWATCHED)
        timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(self.policy.timeout_s)
        try:
            result, next_token = self.gps.reviews(
                app_id, lang=options.lang, country=options.country, sort=self.gps.Sort.NEWEST,
                count=options.per_page, continuation_token=token)
        except Exception as exc:  # noqa: BLE001 - a library error is a failed page
            raise Retryable(f"google-play-scraper failed ({type(exc).__name__}: {exc})") from None
        finally:
            socket.setdefaulttimeout(timeout)
            if real is not None:
                feature._fetch_review_items = real
        if failures:
            exc = failures[-1]
            detail = str(exc) or type(exc).__name__
            if isinstance(exc, (socket.timeout, TimeoutError)) or "timed out" in detail:
                detail = f"no answer within {self.policy.timeout_s:g} s (time-out)"
            raise Retryable(f"the request failed ({type(exc).__name__}: {detail[:200]})")
        if not isinstance(result, list):
            raise Retryable("google-play-scraper returned no list of reviews")
        return result, next_token


def token_text(token: Any) -> str | None:
    """The continuation token's own string (None: no page follows)."""
    text = getattr(token, "token", token)
    return text if isinstance(text, str) and text else None


class PlayFetcher(SteamFetcher):
    """Steam's walk with Google Play's pages (see the module docstring)."""

    source = SOURCE
    label = "google play app"
    format = "googleplay"

    def __init__(self, store: Any, client: PlayClient, *, landing_root: Path,
                 options: PlayFetchOptions, echo: Callable[[str], None] | None = None) -> None:
        self.store, self.http = store, client
        self.base_url = HOST
        self.landing_root = landing_root
        self.options = options.check()  # type: ignore[assignment]
        self.echo = echo or (lambda _line: None)
        self._asked: set[str] = set()
        three = THREE_STARS[options.three_stars]
        self.review_row = lambda record: review_row(record, three)  # type: ignore[method-assign]

    def _page(self, run: FetchRun, number: int) -> _Page:
        state = run.state
        app_id = state["product"]
        cursor = str(state["cursor"])
        self._asked.update(state["cursors"])
        self._asked.add(cursor)
        what = f"{self.label} {app_id} page {number}"
        options: PlayFetchOptions = self.options  # type: ignore[assignment]
        token = self.http.token(options, cursor)
        try:
            records, next_token, tries = self.http.page(app_id, options, token, what,
                                                        self._check)
        except FetchError as exc:
            raise PlayFetchError(f"{exc}; the pages fetched so far are kept in {run.path} "
                                 "and the next fetch resumes from this page") from None
        following = token_text(next_token)
        if records and following is not None and following in self._asked:
            raise PlayFetchError(f"{what}: the continuation token came back again (a loop); "
                                 f"the pages fetched so far are kept in {run.path}")
        body = json.dumps({
            "source": "google-play-scraper", "app_id": app_id, "lang": options.lang,
            "country": options.country, "fetched_at": utcnow().isoformat() + "Z",
            "continuation_token": following, "reviews": records,
        }, ensure_ascii=False, default=str).encode("utf-8")
        return _Page(body, records, following or "", {}, tries,
                     last=following is None)

    @staticmethod
    def _check(reviews: list[Any]) -> list[dict[str, Any]]:
        """The page's reviews as landed; Retryable when one lacks what every review has."""
        records = []
        for i, review in enumerate(reviews, 1):
            missing = ([f for f in REQUIRED if review.get(f) is None]
                       if isinstance(review, dict) else list(REQUIRED))
            if missing:
                rid = review.get("reviewId") if isinstance(review, dict) else None
                raise Retryable(f"review {i} of the page ({'id ' + str(rid) if rid else 'no id'})"
                                f" lacks {', '.join(missing)}; google-play-scraper's output "
                                "changed shape")
            records.append(landed_record(review))
        return records

    def _ingest_options(self, run: FetchRun) -> Any:
        from asaas.ingest import IngestOptions

        three = (run.state.get("params") or {}).get("three_stars", "unlabelled")
        return IngestOptions(format=self.format, dataset=run.state["dataset"],
                             label_map={"3": THREE_STARS.get(three)})


def fetch_play(store: Any, app_ids: Sequence[str], options: PlayFetchOptions, *,
               client: PlayClient, landing_root: Path,
               echo: Callable[[str], None] | None = None, deadline: float | None = None
               ) -> tuple[list[AppFetch], list[str]]:
    """Fetch each app in turn; one app's failure does not stop the others (as fetch_steam)."""
    fetcher = PlayFetcher(store, client, landing_root=landing_root, options=options, echo=echo)
    return fetch_each(fetcher, check_app_ids(app_ids), deadline)
