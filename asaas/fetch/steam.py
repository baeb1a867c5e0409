"""Fetch reviews from Steam's public review endpoint, land every page, then ingest them.

``GET {ASAAS_STEAM_API_URL}/appreviews/<appid>?json=1&language=..&filter=updated|recent
&purchase_type=all&num_per_page=100&cursor=..``: the first page is asked for with cursor ``*``,
each answer carries the cursor of the next page (an opaque string with ``+``, ``/`` and ``=``,
sent URL-encoded). ``filter=updated`` lists the most recently created *or edited* reviews
first, ``filter=recent`` by creation time. At the end of the list Steam answers an empty page.

Per app, one fetch run (asaas.fetch.landing):

1. Pages are asked for in order; each answer is checked (JSON, ``success`` 1, a list of reviews
   each with ``recommendationid``, ``review``, ``voted_up`` and ``timestamp_created``, a cursor
   not asked for before) and a bad one is asked for again (asaas.fetch.http: backoff, jitter,
   ``Retry-After``), then the fetch of the app stops with a one-line error naming the page.
2. A good page is written to the landing folder, then the state (the next cursor). A killed
   fetch resumes from that cursor the next time (with the same options; a leftover fetch with
   other options is ingested as it stands, then a new one starts).
3. Each review is compared with the database (asaas.history, NEWS_FIELDS: text,
   recommendation, developer response and its time, edit time): new, changed, or held
   unchanged. The walk stops after ``overlap`` reviews in a row held unchanged (what the last
   fetch already saw; only once some walk reached the end of the list, see ``_new_run``), at
   the end of the list, or after ``max_pages`` (the next fetch then goes on from there).
4. The run's pages are ingested through ``--format steam`` in one ingest run: new reviews are
   inserted, stored ones whose copy changed are updated with their changes recorded in
   ``review_history`` (asaas.ingest.changes). Nothing reaches the database before every page of
   the run is landed, and an ingest that fails leaves nothing (asaas.ingest), so a failure
   anywhere leaves the database as it was; the landed pages stay, and the next fetch resumes or
   ingests them.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from asaas.errors import AsaasError, ConfigError
from asaas.fetch.http import FetchError, Http, Response, Retryable, looks_like_html
from asaas.fetch.landing import FETCHED, FETCHING, INGESTED, FetchRun, Landing
from asaas.history import NEWS_FIELDS, compare
from asaas.store import Store
from asaas.store.schema import reviews

SOURCE = "steam"
#: Reviews compared with the database per query when a whole run is counted at its end.
COMPARE_CHUNK = 10_000
#: Cursors kept in a fetch's state (the loop check of one invocation remembers all of them).
KEPT_CURSORS = 50
FILTERS = ("updated", "recent")
PER_PAGE = 100

#: Fields every review record must have: without them a review cannot be stored or compared.
REQUIRED = ("recommendationid", "review", "voted_up", "timestamp_created")

_APPID = re.compile(r"^\d{1,10}$")
#: Steam's API language codes: english, schinese, brazilian, koreana... or all.
_LANGUAGE = re.compile(r"^[a-z_]{2,32}$")


class SteamFetchError(FetchError):
    """The fetch of one app failed; the message names the app and the page."""


@dataclass(frozen=True)
class SteamFetchOptions:
    language: str = "all"
    filter: str = "updated"
    #: Pages asked for per app in one invocation (None: no limit). What was fetched is then
    #: ingested, and the next fetch goes on from there until the walk ends properly.
    max_pages: int | None = None
    dataset: str = "steam"
    #: Reviews in a row held unchanged that end an incremental fetch.
    overlap: int = 100
    #: Walk the whole list from the newest review, whatever is held: refreshes what changes on
    #: old reviews without moving them (votes; answers, if Steam does not count them as edits).
    full: bool = False

    def check(self) -> SteamFetchOptions:
        if not _LANGUAGE.match(self.language):
            raise ConfigError(f"--language {self.language!r} is not a Steam language code; use "
                              "e.g. english, schinese, brazilian, or all")
        if self.filter not in FILTERS:
            raise ConfigError(f"--filter {self.filter!r}: use updated (new and edited reviews "
                              "first) or recent (new reviews first)")
        check_walk(self.max_pages, self.overlap, self.dataset, "steam")
        return self

    def params(self) -> dict[str, Any]:
        """What makes two fetches the same walk (a resumed fetch must keep them)."""
        return {"language": self.language, "filter": self.filter, "purchase_type": "all",
                "num_per_page": PER_PAGE}


def check_walk(max_pages: int | None, overlap: int, dataset: str, fmt: str) -> None:
    """The checks every store's fetch shares: the page limit, the overlap that ends an
    incremental walk, and the dataset its pages are ingested into (with format ``fmt``)."""
    if max_pages is not None and max_pages < 1:
        raise ConfigError("--max-pages must be at least 1")
    if overlap < 1:
        raise ConfigError("the overlap (ASAAS_FETCH_OVERLAP) must be at least 1 review")
    from asaas.ingest import IngestOptions
    from asaas.ingest.options import check_options

    check_options(IngestOptions(dataset=dataset, format=fmt))


def check_appids(appids: Sequence[str]) -> list[str]:
    """App ids as Steam writes them (digits), duplicates dropped; ConfigError otherwise."""
    out: list[str] = []
    for raw in appids:
        appid = str(raw).strip()
        if not _APPID.match(appid):
            raise ConfigError(f"{raw!r} is not a Steam app id (digits, e.g. 440 in "
                              "store.steampowered.com/app/440)")
        if appid not in out:
            out.append(appid)
    if not out:
        raise ConfigError("name at least one Steam app id, e.g. `asaas fetch steam 440`")
    return out


@dataclass
class AppFetch:
    """What one app's fetch did (this invocation)."""

    appid: str
    run: Path
    resumed: bool = False
    pages: int = 0
    requests: int = 0
    retries: int = 0
    reviews: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    #: caught up | end of list | max pages
    stopped: str = ""
    total_reviews: int | None = None
    ingested: int = 0
    #: Stored reviews the ingest updated (their changes recorded in review_history).
    updated: int = 0
    ingest_run_id: int | None = None
    #: Reviews the ingest refused, by reason (asaas.ingest's reasons), with examples.
    rejected: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    #: Earlier unfinished runs with other options, ingested as they stood first.
    flushed: list[str] = field(default_factory=list)


@dataclass
class _Page:
    body: bytes
    records: list[dict[str, Any]]
    cursor: str
    summary: dict[str, Any]
    attempts: int
    #: Steam answered an empty page although its count says more reviews exist.
    short: bool = False
    #: The store says no page follows this one (Google Play: no continuation token).
    last: bool = False


def review_row(record: dict[str, Any]) -> dict[str, Any]:
    """A Steam review record as ``reviews`` columns, normalised the way ingest stores them."""
    from asaas.ingest import normalize_label, parse_time

    def number(name: str, kind: type) -> Any:
        value = record.get(name)
        if value is None or value == "":
            return None
        try:
            return kind(value)
        except (TypeError, ValueError):
            return None

    response = record.get("developer_response")
    response = response if isinstance(response, str) and response.strip() else None
    return {
        "external_id": str(record["recommendationid"]).strip(),
        "text": str(record["review"]),
        "label": normalize_label(record.get("voted_up")),
        # Steam leaves both out of a review nobody answered.
        "developer_response": response,
        "developer_responded_at": _time(record.get("timestamp_dev_responded"), parse_time),
        "review_updated_at": _time(record.get("timestamp_updated"), parse_time),
        "votes_up": number("votes_up", int),
        "votes_funny": number("votes_funny", int),
        "comment_count": number("comment_count", int),
        "weighted_vote_score": number("weighted_vote_score", float),
    }


def _time(value: Any, parse: Callable[[Any], datetime | None]) -> datetime | None:
    # As ingest reads it (0, Steam's "none", is no time there too), so that a stored review
    # compares equal.
    try:
        moment = parse(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return None if moment == _EPOCH else moment


_EPOCH = datetime(1970, 1, 1)


_COMPARED = ("external_id", "label", "rating", "content_hash", "developer_response",
             "developer_responded_at", "review_updated_at", "votes_up", "votes_funny",
             "comment_count", "weighted_vote_score")


def held_rows(store: Store, dataset: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored rows of these review ids (the columns asaas.history compares)."""
    if not ids:
        return {}
    cols = [reviews.c[name] for name in _COMPARED]
    with store.transaction() as conn:
        rows = conn.execute(sa.select(*cols).where(reviews.c.dataset == dataset,
                                                   reviews.c.external_id.in_(ids))).fetchall()
    return {r[0]: dict(zip(_COMPARED, r, strict=True)) for r in rows}


class SteamFetcher:
    """Fetches apps one after the other with one HTTP client (one rate limit for the host).

    The walk, the landing runs, the stop rule and the ingest are the same for every store: a
    subclass (asaas.fetch.googleplay) names its ``source``, ``label``, ``format`` and row
    normalisation (``review_row``) and fetches its own pages (``_page``)."""

    source = SOURCE
    label = "steam app"
    format = "steam"
    review_row = staticmethod(review_row)
    #: time.monotonic() after which no page is asked for (None: no limit): the walk stops as
    #: with --max-pages, what was fetched is ingested, the next fetch goes on from there.
    deadline: float | None = None
    #: Seconds between progress lines of one app's walk (to ``echo``).
    progress_every_s: float = 60.0
    #: Apps not started because the deadline had passed (fetch_each).
    left: list[str] = []

    def __init__(self, store: Store, http: Http, *, base_url: str, landing_root: Path,
                 options: SteamFetchOptions, echo: Callable[[str], None] | None = None) -> None:
        self.store, self.http = store, http
        self.base_url = base_url.rstrip("/")
        self.landing_root = landing_root
        self.options = options.check()
        self.echo = echo or (lambda _line: None)
        #: Every cursor asked for in this invocation: a cursor coming back is a loop.
        self._asked: set[str] = set()

    # -- one app -------------------------------------------------------------------------------

    def fetch(self, appid: str) -> AppFetch:
        t0 = time.perf_counter()
        requests0, retries0 = self.http.requests, self.http.retries
        self._asked = set()
        landing = Landing(self.landing_root, self.source, appid)
        with landing.locked():
            report = AppFetch(appid, landing.path)
            run = landing.unfinished()
            if run is not None and (run.state.get("params") != self.options.params()
                                    or run.state.get("dataset") != self.options.dataset):
                # Pages landed with other options are real reviews: ingest them as they stand.
                self._ingest(run, report)
                report.flushed.append(run.name)
                run = None
            report.resumed = run is not None
            if run is None:
                run = self._new_run(landing)
            report.run = run.path
            try:
                if run.status == FETCHING:
                    run.clean_temporary()
                    self._walk(run, report)
                else:  # fetched before, its ingest failed or was killed: ingest it now
                    report.stopped = f"{run.state.get('stopped')} (fetched earlier)"
                self._ingest(run, report)
            finally:
                report.requests = self.http.requests - requests0
                report.retries = self.http.retries - retries0
                report.duration_s = time.perf_counter() - t0
            return report

    def _new_run(self, landing: Landing) -> FetchRun:
        """A fetch from the newest review, or from where the last one stopped short (capped by
        --max-pages, or interrupted and ingested as it stood) until a walk ends properly.

        "Caught up" (``overlap`` reviews in a row already held) only means "met what an earlier
        fetch saw", so it ends a walk only when that earlier walk itself ended properly
        (``history_complete``): reached the end of the list, or caught up on such a walk.
        Otherwise the walk goes on to the end of the list: the first fetch of an app, and the
        gap a capped fetch leaves, are filled, not skipped."""
        params, dataset = self.options.params(), self.options.dataset
        if self.options.full:
            return landing.new_run(params, dataset, history_complete=False, full=True)
        same = [r for r in landing.runs() if r.state.get("params") == params
                and r.state.get("dataset") == dataset and r.status == INGESTED]
        if not same:
            return landing.new_run(params, dataset, history_complete=False)
        last = same[-1].state
        if last.get("stopped") in ("end of list", "caught up"):
            return landing.new_run(params, dataset, history_complete=True)
        return landing.new_run(
            params, dataset, cursor=last["cursor"], continues=same[-1].name,
            history_complete=bool(last.get("history_complete")),
            cursors=last.get("cursors", []), total_reviews=last.get("total_reviews"),
            seen_before=int(last.get("seen_before") or 0) + int(last.get("reviews") or 0))

    def _walk(self, run: FetchRun, report: AppFetch) -> None:
        state = run.state
        report.total_reviews = state.get("total_reviews")
        # Only a walk that may stop once caught up needs each page compared before the next
        # request (a DuckDB file takes ~80 ms to open, which would cap a walk near 8 pages/s);
        # the others are counted once at the end, in a few queries.
        live = bool(state.get("history_complete"))
        shown = time.monotonic()
        while True:
            if self.options.max_pages is not None and report.pages >= self.options.max_pages:
                run.save(status=FETCHED, stopped="max pages")
                break
            if self.deadline is not None and time.monotonic() >= self.deadline:
                run.save(status=FETCHED, stopped="time limit")
                break
            if time.monotonic() - shown >= self.progress_every_s:
                shown = time.monotonic()
                self.echo(f"{self.label} {state['product']}: {report.pages:,} pages, "
                          f"{report.reviews:,} reviews so far")
            number = int(state["pages"]) + 1
            page = self._page(run, number)
            run.write_page(number, page.body, empty=not page.records)
            if state.get("total_reviews") is None and "total_reviews" in page.summary:
                state["total_reviews"] = page.summary.get("total_reviews")
                report.total_reviews = state["total_reviews"]
            counts = self._compare(page.records) if live else []
            run_of_unchanged = int(state["run_of_unchanged"])
            for status in counts:
                run_of_unchanged = run_of_unchanged + 1 if status == "unchanged" else 0
            report.pages += 1
            report.reviews += len(page.records)
            report.new += counts.count("new")
            report.changed += counts.count("changed")
            report.unchanged += counts.count("unchanged")
            stopped = None
            if not page.records or page.last:
                stopped = "end of list"
                if page.short:
                    seen = int(state.get("seen_before") or 0) + int(state["reviews"])
                    note = (f"steam app {run.state['product']} page {number}: Steam answered "
                            f"an empty page after {seen:,} of the "
                            f"{state.get('total_reviews'):,} reviews it counts (asked "
                            f"{page.attempts} times); taken as the end of the list")
                    report.notes.append(note)
                    self.echo(note)
            elif state.get("history_complete") and run_of_unchanged >= self.options.overlap:
                stopped = "caught up"
            run.save(
                # The last cursors asked for, for the audit and the loop check of a resumed
                # fetch (all of them would make each state write grow with the fetch).
                cursor=page.cursor, pages=number,
                cursors=[*state["cursors"], state["cursor"]][-KEPT_CURSORS:],
                reviews=int(state["reviews"]) + len(page.records),
                new=int(state["new"]) + counts.count("new"),
                changed=int(state["changed"]) + counts.count("changed"),
                unchanged=int(state["unchanged"]) + counts.count("unchanged"),
                run_of_unchanged=run_of_unchanged,
                **({"status": FETCHED, "stopped": stopped} if stopped else {}))
            if stopped:
                break
        if not live:
            counts = Counter(self._compare_landed(run))
            run.save(new=counts["new"], changed=counts["changed"], unchanged=counts["unchanged"])
            report.new, report.changed, report.unchanged = (counts["new"], counts["changed"],
                                                            counts["unchanged"])
        report.stopped = str(state.get("stopped"))

    def _page(self, run: FetchRun, number: int) -> _Page:
        state = run.state
        appid = state["product"]
        cursor = str(state["cursor"])
        self._asked.update(state["cursors"])
        self._asked.add(cursor)
        what = f"steam app {appid} page {number}"
        parsed: dict[str, _Page] = {}

        def check(response: Response) -> None:
            parsed["page"] = self._parse(response, cursor, self._asked, state)

        params = {"json": "1", **{k: str(v) for k, v in self.options.params().items()},
                  "cursor": cursor}
        try:
            self.http.get(f"{self.base_url}/appreviews/{appid}", params, what=what, check=check)
        except FetchError as exc:
            if isinstance(exc.last, _ShortPage):
                # Empty every time although Steam counts more: its count includes reviews it
                # no longer lists (deleted, hidden), so this is the end of the list.
                exc.last.page.attempts = self.http.policy.attempts
                return exc.last.page
            raise SteamFetchError(f"{exc}; the pages fetched so far are kept in {run.path} "
                                  "and the next fetch resumes from this page") from None
        return parsed["page"]

    def _parse(self, response: Response, cursor: str, asked: set[str],
               state: dict[str, Any]) -> _Page:
        body = response.body
        if looks_like_html(body, response.headers.get("content-type", "")):
            title = re.search(rb"<title>(.*?)</title>", body[:4096], re.IGNORECASE | re.DOTALL)
            shown = (" (" + " ".join(title.group(1).decode("utf-8", "replace").split())[:80]
                     + ")") if title else ""
            raise Retryable(f"an HTML page{shown} instead of JSON")
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise Retryable(f"an answer that is not JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise Retryable("a JSON answer that is not an object")
        if doc.get("success") != 1:
            raise Retryable(f"success={doc.get('success')!r} (Steam did not answer the query)")
        records = doc.get("reviews")
        if not isinstance(records, list):
            raise Retryable("an answer without a list of reviews")
        summary = doc.get("query_summary") if isinstance(doc.get("query_summary"), dict) else {}
        next_cursor = doc.get("cursor")
        for i, record in enumerate(records, 1):
            # Present and not null; an empty text is the ingest's to reject, with its reason.
            missing = ([f for f in REQUIRED if record.get(f) is None]
                       if isinstance(record, dict) else list(REQUIRED))
            if missing:
                rid = record.get("recommendationid") if isinstance(record, dict) else None
                raise Retryable(f"review {i} of the page ({'id ' + str(rid) if rid else 'no id'})"
                                f" lacks {', '.join(missing)}; Steam's answer changed shape")
        if not records:
            total = state.get("total_reviews")
            if total is None and "total_reviews" in summary:
                total = summary.get("total_reviews")
            seen = int(state.get("seen_before") or 0) + int(state["reviews"])
            short = isinstance(total, int) and not isinstance(total, bool) and seen < total
            page = _Page(body, [], str(next_cursor or cursor), summary, response.attempts, short)
            if short:
                # Worth another try (Steam answers empty pages under load), and if it stays
                # empty it is the end (_page): its counts include reviews it no longer lists.
                raise _ShortPage(page)
            return page
        if not isinstance(next_cursor, str) or not next_cursor:
            raise Retryable("a page of reviews without the next cursor")
        if next_cursor in asked:
            raise Retryable(f"the cursor {next_cursor!r} again, which was already asked for "
                            "(a loop)")
        return _Page(body, records, next_cursor, summary, response.attempts)

    def _compare_landed(self, run: FetchRun) -> list[str]:
        """new / changed / unchanged for every review the run landed (a resumed run's earlier
        pages included), compared in chunks of COMPARE_CHUNK reviews."""
        statuses: list[str] = []
        chunk: list[dict[str, Any]] = []
        for path in run.landed_pages():
            doc = json.loads(path.read_bytes())
            chunk += doc.get("reviews") or []
            if len(chunk) >= COMPARE_CHUNK:
                statuses += self._compare(chunk)
                chunk = []
        return statuses + (self._compare(chunk) if chunk else [])

    def _compare(self, records: list[dict[str, Any]]) -> list[str]:
        """new / changed / unchanged for each record, in page order."""
        rows = [self.review_row(r) for r in records]
        held = held_rows(self.store, self.options.dataset,
                         list(dict.fromkeys(r["external_id"] for r in rows)))
        result = compare(held, rows, fields=NEWS_FIELDS)
        new, unchanged = set(result.new), set(result.unchanged)
        return ["new" if r["external_id"] in new else
                "unchanged" if r["external_id"] in unchanged else "changed" for r in rows]

    # -- ingest --------------------------------------------------------------------------------

    def _ingest(self, run: FetchRun, report: AppFetch) -> None:
        from asaas.ingest import ingest

        if run.status == INGESTED:
            return
        if run.status == FETCHING:
            run.save(status=FETCHED, stopped="interrupted; ingested as it stood")
        if not int(run.state.get("reviews") or 0):
            run.save(status=INGESTED, ingest_run_id=None, ingested=0)
            return
        try:
            result = ingest(self.store, str(run.pages_dir), self._ingest_options(run))
        except AsaasError as exc:
            run.save(error=str(exc)[:500])
            raise SteamFetchError(f"{self.label} {run.state['product']}: the ingest of {run.path} "
                                  f"failed ({exc}); its pages are kept and the next fetch "
                                  "ingests them") from None
        report.ingested += result.inserted
        report.updated += result.updated
        report.ingest_run_id = result.run_id
        for reason, n in result.rejected.items():
            report.rejected[reason] = report.rejected.get(reason, 0) + n
            report.examples.setdefault(reason, result.examples.get(reason, []))
        run.save(status=INGESTED, ingest_run_id=result.run_id, ingested=result.inserted,
                 updated=result.updated, ingest_rejected=result.rows_rejected, error=None)

    def _ingest_options(self, run: FetchRun) -> Any:
        from asaas.ingest import IngestOptions

        return IngestOptions(format=self.format, dataset=run.state["dataset"])


class _ShortPage(Retryable):
    def __init__(self, page: _Page) -> None:
        super().__init__("an empty page although Steam counts more reviews")
        self.page = page


def fetch_steam(store: Store, appids: Sequence[str], options: SteamFetchOptions, *,
                http: Http, base_url: str, landing_root: Path,
                echo: Callable[[str], None] | None = None, deadline: float | None = None
                ) -> tuple[list[AppFetch], list[str]]:
    """Fetch each app in turn; one app's failure does not stop the others. Returns the reports
    of the apps fetched and one error line per app that failed (and, past ``deadline``, one
    saying which apps were left for the next fetch)."""
    fetcher = SteamFetcher(store, http, base_url=base_url, landing_root=landing_root,
                           options=options, echo=echo)
    return fetch_each(fetcher, check_appids(appids), deadline)


def fetch_each(fetcher: SteamFetcher, apps: list[str], deadline: float | None
               ) -> tuple[list[AppFetch], list[str]]:
    """Each app in turn, the ones fetched longest ago first (so a time limit that stops a run
    does not starve the same apps every time); none is started past ``deadline``."""
    fetcher.deadline = deadline
    done: list[AppFetch] = []
    failed: list[str] = []
    left: list[str] = []
    for app in sorted(apps, key=lambda a: last_fetched(fetcher.landing_root, fetcher.source, a)):
        if deadline is not None and time.monotonic() >= deadline:
            left.append(app)
            continue
        try:
            done.append(fetcher.fetch(app))
        except FetchError as exc:
            failed.append(str(exc))
        except AsaasError as exc:  # the landing folder, the database
            failed.append(f"{fetcher.label} {app}: {exc}")
    fetcher.left = left
    if left:
        fetcher.echo(f"time limit: {len(left)} of {len(apps)} apps left for the next fetch "
                     f"({', '.join(left)})")
    return done, failed


def last_fetched(root: Path, source: str, product: str) -> str:
    """The name of the product's latest fetch run (a UTC time; "" when never fetched)."""
    folder = root / source / product
    try:
        runs = [p.name for p in folder.iterdir() if p.is_dir()]
    except OSError:
        return ""
    return max(runs, default="")
