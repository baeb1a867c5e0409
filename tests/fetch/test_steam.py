"""`asaas fetch steam` (asaas/fetch/: steam, http, landing) against a fake Steam API on
127.0.0.1 (tests/fake_steam.py): the real HTTP client, rate limiter and retries, the landing
folder, the ingest, and every failure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_steam import FakeSteam, Fault, second_snapshot, synthetic_records, \
    woctezuma_records
from tests.helpers import err, ok, q
from tests.requires import SHARED, shared_data

WOCTEZUMA = SHARED / "data" / "steam" / "woctezuma_steam_reviews_80games_2010-2018.parquet"


@pytest.fixture
def fake(monkeypatch):
    """A fake Steam with app 440 (250 synthetic reviews); asaas pointed at it with fast
    retries (the time-out stays long enough for a busy CI box; the hang tests shorten it)."""
    with FakeSteam({"440": synthetic_records(250)}) as server:
        monkeypatch.setenv("ASAAS_STEAM_API_URL", server.url)
        monkeypatch.setenv("ASAAS_FETCH_RATE", "500")
        monkeypatch.setenv("ASAAS_FETCH_BACKOFF", "0.01")
        monkeypatch.setenv("ASAAS_FETCH_TIMEOUT", "10")
        monkeypatch.setenv("ASAAS_FETCH_ATTEMPTS", "3")
        yield server


def landing(tmp_path: Path, appid: str = "440") -> Path:
    return tmp_path / "home" / "landing" / "steam" / appid


def runs(tmp_path: Path, appid: str = "440") -> list[Path]:
    return sorted(p for p in landing(tmp_path, appid).iterdir() if p.is_dir())


def state(run: Path) -> dict:
    return json.loads((run / "state.json").read_text())


def count(db, sql: str = "SELECT count(*) FROM reviews") -> int:
    return q(db, sql)[0][0]


# -- the happy paths -----------------------------------------------------------------------------


def test_full_fetch_lands_every_page_then_ingests(invoke, fake, db_path, tmp_path):
    out = ok(invoke("fetch", "steam", "440"))
    assert "steam app 440: 4 pages in 4 requests (0 retries), 250 reviews: 250 new" in out
    assert "end of list; ingested 250" in out
    # The query Steam documents, the cursor URL-encoded (base64: + / = in it).
    first, second = fake.requests[0], fake.requests[1]
    assert first.params == {"json": "1", "language": "all", "filter": "updated",
                            "purchase_type": "all", "num_per_page": "100", "cursor": "*"}
    assert "cursor=%2B%2F" in second.query and "+" not in second.query
    [run] = runs(tmp_path)
    pages = sorted(p.name for p in (run / "pages").iterdir())
    assert pages == [f"page-000{i}-review_440.json" for i in (1, 2, 3)]
    assert (run / "page-0004-empty.json").exists()  # the end of the list, kept for the audit
    raw = json.loads((run / "pages" / pages[0]).read_text())
    assert raw["success"] == 1 and len(raw["reviews"]) == 100  # byte for byte what came
    st = state(run)
    assert st["status"] == "ingested" and st["stopped"] == "end of list"
    assert st["total_reviews"] == 250 and st["reviews"] == 250 and st["ingest_run_id"] == 1
    assert count(db_path) == 250
    assert q(db_path, "SELECT DISTINCT p.external_id, p.kind FROM reviews r JOIN products p "
                      "ON p.id = r.product_id") == [("440", "game")]
    labels = dict(q(db_path, "SELECT label, count(*) FROM reviews GROUP BY label"))
    expected = sum(1 for r in fake.apps["440"] if r["voted_up"])
    assert labels[1] == expected and labels[0] == 250 - expected


def test_incremental_fetch_stops_after_a_page_held_unchanged(invoke, fake, db_path):
    ok(invoke("fetch", "steam", "440"))
    again = ok(invoke("fetch", "steam", "440"))
    assert "1 page in 1 request" in again and "100 held unchanged; caught up" in again
    # 30 new reviews: page 1 holds them and 70 known ones, page 2 completes the overlap.
    fresh = synthetic_records(30, start_id=5000, t0=1_600_000_000, seed=3)
    fake.apps["440"] += fresh
    before = len(fake.requests)
    out = ok(invoke("fetch", "steam", "440"))
    assert len(fake.requests) - before == 2
    assert "250 reviews: 30 new, 0 changed, 220 held unchanged" not in out  # stopped early
    assert "200 reviews: 30 new, 0 changed, 170 held unchanged; caught up; ingested 30" in out
    assert count(db_path) == 280
    # A whole page of new reviews: one page beyond it, no more.
    fake.apps["440"] += synthetic_records(100, start_id=7000, t0=1_700_000_000, seed=4)
    before = len(fake.requests)
    out = ok(invoke("fetch", "steam", "440"))
    assert len(fake.requests) - before == 2 and "100 new" in out
    assert count(db_path) == 380


def test_edits_and_developer_answers_are_seen_and_landed(invoke, fake, db_path, tmp_path):
    ok(invoke("fetch", "steam", "440"))
    records, changed = second_snapshot(fake.apps["440"], responses=6, flips=3, new=5,
                                       now=1_700_000_000)
    fake.apps["440"] = records
    out = ok(invoke("fetch", "steam", "440"))
    # filter=updated: the 5 new and the 3 edited reviews come first, then known ones.
    assert "5 new, 3 changed" in out and "caught up; ingested 5" in out
    latest = runs(tmp_path)[-1]
    page = json.loads((latest / "pages" / "page-0001-review_440.json").read_text())
    top = {r["recommendationid"]: r for r in page["reviews"][:8]}
    assert set(top) == changed["new"] | changed["flipped"]
    for rid in changed["flipped"]:  # the landed page has the new state, for phase 2's history
        assert top[rid]["voted_up"] is True and top[rid]["developer_response"]
    # The ingest keeps the first copy for now (issue 19 phase 2 updates it with history).
    flipped = ",".join(f"'{r}'" for r in changed["flipped"])
    assert q(db_path, f"SELECT DISTINCT label FROM reviews WHERE external_id IN ({flipped})"
             ) == [(0,)]


def test_full_walks_past_what_is_held(invoke, fake, db_path):
    ok(invoke("fetch", "steam", "440"))
    out = ok(invoke("fetch", "steam", "440", "--full"))
    assert "4 pages in 4 requests" in out and "250 held unchanged; end of list" in out
    out = ok(invoke("fetch", "steam", "440"))  # and the next one stops as usual
    assert "1 page in 1 request" in out and "caught up" in out


def test_recent_filter_and_language_are_sent_and_kept_per_fetch(invoke, fake, tmp_path):
    out = ok(invoke("fetch", "steam", "440", "--filter", "recent", "--language", "english",
                    "--max-pages", "1"))
    assert "1 page in 1 request" in out and "max pages" in out
    assert fake.requests[0].params["filter"] == "recent"
    assert fake.requests[0].params["language"] == "english"
    st = state(runs(tmp_path)[0])
    assert st["params"] == {"filter": "recent", "language": "english", "purchase_type": "all",
                            "num_per_page": 100}
    assert st["status"] == "ingested" and st["stopped"] == "max pages"


def test_several_apps_one_failing(invoke, fake, db_path):
    fake.apps["570"] = synthetic_records(40, start_id=90_000, seed=5)
    fake.faults.append(Fault("620", 1, "status", times=99, status=404))
    result = invoke("fetch", "steam", "570", "620", "440")
    line = err(result, after_log_lines=True)
    assert line.startswith("Error: steam app 620 page 1: HTTP 404")
    assert f"the pages fetched so far are kept in {runs(db_path.parent, '620')[0]}" in line
    assert "steam app 570: 2 pages" in result.output and "steam app 440: 4 pages" in result.output
    assert count(db_path) == 290
    assert len([r for r in fake.requests if r.appid == "620"]) == 1  # a 404 is not retried


@pytest.mark.parametrize("appid", ["abc", "44O", "4.5", "1" * 11])
def test_bad_app_id_is_one_line_and_creates_nothing(invoke, fake, db_path, appid):
    line = err(invoke("fetch", "steam", "440", appid))
    assert f"{appid!r} is not a Steam app id" in line
    assert not db_path.exists() and not fake.requests


def test_bad_language_is_one_line(invoke, fake, db_path):
    assert "not a Steam language code" in err(invoke("fetch", "steam", "440", "--language",
                                                     "en glish"))
    assert not db_path.exists()


# -- failures, each retried, then one line -------------------------------------------------------


def test_429_then_success_honours_retry_after(fake, db_path, tmp_path):
    """Library level, to see the waits: the Retry-After of 3 s is waited, not the 0.01 s
    backoff."""
    from asaas.fetch import Http, HttpPolicy, SteamFetchOptions, fetch_steam
    from asaas.store import open_store

    fake.faults.append(Fault("440", 2, "status", status=429, headers={"Retry-After": "3"}))
    waits: list[float] = []
    store = open_store(str(db_path))
    with Http(HttpPolicy(rate_per_s=500, timeout_s=10, attempts=3, backoff_s=0.01),
              sleep=waits.append) as http:
        done, failed = fetch_steam(store, ["440"], SteamFetchOptions(), http=http,
                                   base_url=fake.url, landing_root=tmp_path / "landing")
    assert failed == [] and done[0].retries == 1 and done[0].ingested == 250
    assert len(waits) == 1 and 3.0 <= waits[0] < 3.1


def test_retry_after_longer_than_the_limit_fails_at_once(invoke, fake, db_path, monkeypatch):
    monkeypatch.setenv("ASAAS_FETCH_MAX_WAIT", "60")
    fake.faults.append(Fault("440", 1, "status", times=9, status=429,
                             headers={"Retry-After": "3600"}))
    line = err(invoke("fetch", "steam", "440"), after_log_lines=True)
    assert "steam app 440 page 1: HTTP 429; the server asks to wait 3600 s (Retry-After)" in line
    assert len(fake.requests) == 1 and count(db_path) == 0


def test_5xx_then_success(invoke, fake, db_path):
    fake.faults.append(Fault("440", 2, "status", times=2, status=503))
    out = ok(invoke("fetch", "steam", "440"))
    assert "4 pages in 6 requests (2 retries)" in out
    assert "retry: steam app 440 page 2: HTTP 503; try 2 of 3" in out
    assert count(db_path) == 250


@pytest.mark.parametrize("kind,message", [
    ("status", "HTTP 502 (tried 3 times)"),
    ("hang", "no answer within 0.5 s (time-out) (tried 3 times)"),
    ("html", "an HTML page (Steam Community :: Error) instead of JSON (tried 3 times)"),
    ("success0", "success=2 (Steam did not answer the query) (tried 3 times)"),
    ("loop", "which was already asked for (a loop) (tried 3 times)"),
    ("missing", "lacks voted_up; Steam's answer changed shape (tried 3 times)"),
])
def test_a_page_that_stays_bad_is_one_line_and_nothing_is_ingested(invoke, fake, db_path,
                                                                   tmp_path, kind, message,
                                                                   monkeypatch):
    if kind == "hang":
        monkeypatch.setenv("ASAAS_FETCH_TIMEOUT", "0.5")
    fake.faults.append(Fault("440", 2, kind, times=3, status=502, hang_s=3))
    result = invoke("fetch", "steam", "440")
    line = err(result, after_log_lines=True)
    assert line.startswith("Error: steam app 440 page 2: ") and message in line, line
    assert "the next fetch resumes from this page" in line
    assert count(db_path) == 0  # page 1 was landed, not ingested: nothing half-written
    [run] = runs(tmp_path)
    st = state(run)
    assert st["status"] == "fetching" and st["pages"] == 1
    assert [p.name for p in (run / "pages").iterdir()] == ["page-0001-review_440.json"]
    # The next fetch resumes from page 2 (its cursor), lands the rest and ingests everything.
    before = len(fake.requests)
    out = ok(invoke("fetch", "steam", "440"))
    assert "[resumed]" in out and "3 pages in 3 requests" in out and "ingested 250" in out
    assert fake.requests[before].page == 2 and fake.requests[before].params["cursor"] != "*"
    assert count(db_path) == 250 and runs(tmp_path) == [run]


@pytest.mark.parametrize("kind", ["status", "hang", "html", "success0", "loop", "missing",
                                  "empty"])
def test_a_bad_answer_once_is_retried(invoke, fake, db_path, kind, monkeypatch):
    if kind == "hang":
        monkeypatch.setenv("ASAAS_FETCH_TIMEOUT", "0.5")
    fake.faults.append(Fault("440", 3, kind, times=1, status=500, hang_s=3))
    out = ok(invoke("fetch", "steam", "440"))
    assert "4 pages in 5 requests (1 retry)" in out, out
    assert count(db_path) == 250


def test_empty_page_that_stays_empty_ends_the_list_with_a_note(invoke, fake, db_path):
    fake.faults.append(Fault("440", 2, "empty", times=9))
    out = ok(invoke("fetch", "steam", "440"))
    assert ("steam app 440 page 2: Steam answered an empty page after 100 of the 250 reviews "
            "it counts (asked 3 times); taken as the end of the list") in out
    assert "ingested 100" in out and count(db_path) == 100


def test_unknown_host_part_of_the_url_is_a_clear_error(invoke, fake, db_path, monkeypatch):
    monkeypatch.setenv("ASAAS_STEAM_API_URL", "http://127.0.0.1:9")  # discard port: refused
    line = err(invoke("fetch", "steam", "440"), after_log_lines=True)
    assert "steam app 440 page 1: connection failed (ConnectError" in line


def test_a_second_fetch_of_the_same_app_is_refused_while_one_runs(invoke, fake, tmp_path):
    from asaas.fetch.landing import Landing

    with Landing(tmp_path / "home" / "landing", "steam", "440").locked():
        line = err(invoke("fetch", "steam", "440"), after_log_lines=True)
    assert "steam 440 is being fetched by another process" in line
    assert not fake.requests


def test_killed_fetch_resumes_from_its_cursor(fake, db_path, tmp_path, monkeypatch, invoke):
    """A real kill: `asaas fetch` in a child process, SIGKILLed once two pages are landed."""
    fake.apps["440"] = synthetic_records(1000, seed=9)
    monkeypatch.setenv("ASAAS_FETCH_RATE", "4")  # slow enough to be caught mid-fetch
    child = subprocess.Popen([sys.executable, "-m", "asaas", "fetch", "steam", "440"],
                             env=dict(os.environ), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = list(landing(tmp_path).glob("*/state.json"))
            if found and state(found[0].parent)["pages"] >= 2:
                break
            assert child.poll() is None, child.stdout.read()
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    [run] = runs(tmp_path)
    landed = state(run)["pages"]
    assert 2 <= landed < 10 and state(run)["status"] == "fetching"
    assert not db_path.exists() or count(db_path) == 0
    monkeypatch.setenv("ASAAS_FETCH_RATE", "500")
    before = len(fake.requests)
    out = ok(invoke("fetch", "steam", "440"))
    assert "[resumed]" in out and "ingested 1,000" in out
    assert fake.requests[before].page == landed + 1  # from its cursor, not from the top
    assert count(db_path) == 1000 and count(db_path, "SELECT count(DISTINCT external_id) "
                                                     "FROM reviews") == 1000


def test_fetch_with_other_options_ingests_the_unfinished_one_first(invoke, fake, db_path,
                                                                  tmp_path):
    fake.faults.append(Fault("440", 2, "status", times=3, status=500))
    err(invoke("fetch", "steam", "440"), after_log_lines=True)
    out = ok(invoke("fetch", "steam", "440", "--filter", "recent"))
    first = runs(tmp_path)[0]
    assert f"ingested earlier fetch {first.name} first" in out
    assert state(first)["status"] == "ingested"
    # The new walk (filter=recent) never reached the end before: it does not stop at the
    # 100 reviews held from the first one, it walks on to the end.
    assert "4 pages in 4 requests" in out and "150 new, 0 changed, 100 held" in out
    assert count(db_path) == 250


def test_capped_fetches_go_on_where_the_last_one_stopped(invoke, fake, db_path, tmp_path):
    out = ok(invoke("fetch", "steam", "440", "--max-pages", "2"))
    assert "2 pages in 2 requests" in out and "max pages; ingested 200" in out
    fake.apps["440"] += synthetic_records(10, start_id=5000, t0=1_600_000_000, seed=3)
    before = len(fake.requests)
    out = ok(invoke("fetch", "steam", "440", "--max-pages", "2"))
    # From the first fetch's cursor (page 3 of the list as it was), not from the top again.
    assert fake.requests[before].params["cursor"] == state(runs(tmp_path)[0])["cursor"]
    assert "end of list; ingested 50" in out and count(db_path) == 250
    assert state(runs(tmp_path)[1])["continues"] == runs(tmp_path)[0].name
    # Now the history is whole: the next fetch starts at the top and stops once caught up.
    out = ok(invoke("fetch", "steam", "440"))
    assert "10 new, 0 changed" in out and "caught up; ingested 10" in out
    assert count(db_path) == 260


def test_retry_after_parsing():
    from datetime import datetime, timezone

    from asaas.fetch.http import retry_after_seconds

    now = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Tue, 01 Dec 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Tue, 01 Dec 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_review_row_matches_what_ingest_stores(invoke, fake, db_path):
    """The fetch's stop rule compares pages with stored rows: a page ingested then compared
    must come out unchanged, field by field."""
    from asaas.fetch.steam import held_rows, review_row
    from asaas.history import FIELDS, compare
    from asaas.store import open_store

    records = fake.apps["440"]
    records[0].update(developer_response="We hear you", timestamp_dev_responded=1_500_000_900)
    records[1].update(developer_response="   ", timestamp_dev_responded=0)
    ok(invoke("fetch", "steam", "440"))
    rows = [review_row(r) for r in records]
    held = held_rows(open_store(str(db_path)), "steam", [r["external_id"] for r in rows])
    result = compare(held, rows, fields=FIELDS)
    assert result.history == [] and len(result.unchanged) == 250
    # ingest does not store votes yet (phase 2): they are backfills, not changes.
    assert set(result.updates[rows[0]["external_id"]]) <= {"review_updated_at", "votes_up",
                                                           "votes_funny", "comment_count",
                                                           "weighted_vote_score"}


# -- the shared woctezuma copy -------------------------------------------------------------------


@shared_data("data", "steam", WOCTEZUMA.name)
def test_woctezuma_game_full_then_second_snapshot(invoke, db_path, tmp_path, monkeypatch):
    """IL-2 Sturmovik: 1946 (1,193 reviews from 2010 to 2018) served page by page as Steam
    would, then a later snapshot where the developer answered some negative reviews, some of
    their authors turned positive, and new reviews arrived."""
    records = woctezuma_records(WOCTEZUMA, 15320)
    assert len(records) == 1193
    with FakeSteam({"15320": records}) as server:
        monkeypatch.setenv("ASAAS_STEAM_API_URL", server.url)
        monkeypatch.setenv("ASAAS_FETCH_RATE", "500")
        out = ok(invoke("fetch", "steam", "15320"))
        assert "13 pages in 13 requests (0 retries), 1,193 reviews: 1,193 new" in out
        # One review of the copy is whitespace only: the ingest rejects it and says so.
        blank = sum(1 for r in records if not r["review"].strip())
        assert blank == 1 and f"ingested {1193 - blank:,}" in out
        assert "rejected 1: text is empty or whitespace" in out
        # Ingested through --format steam as a file of the woctezuma copy would be.
        assert count(db_path) == 1193 - blank
        assert count(db_path, "SELECT count(*) FROM reviews WHERE developer_response IS NOT "
                              "NULL") == sum(1 for r in records if r.get("developer_response"))
        assert q(db_path, "SELECT count(DISTINCT language), min(reviewed_at) >= "
                          "TIMESTAMP '2010-10-01' FROM reviews") == [(len({r['language'] for r in
                                                                          records}), True)]

        later, changed = second_snapshot(records, responses=20, flips=8, new=150,
                                         now=1_522_000_000)
        server.apps["15320"] = later
        before = len(server.requests)
        out = ok(invoke("fetch", "steam", "15320"))
        # 158 new or edited reviews sit on pages 1-2; page 3 completes the overlap window.
        assert len(server.requests) - before == 3
        assert "150 new, 8 changed" in out and "ingested 150" in out
        assert count(db_path) == 1343 - blank
        run = runs(tmp_path, "15320")[-1]
        landed = {r["recommendationid"]: r for p in sorted((run / "pages").iterdir())
                  for r in json.loads(p.read_text())["reviews"]}
        assert changed["flipped"] | changed["new"] <= set(landed)
        assert all(landed[rid]["voted_up"] and landed[rid]["developer_response"]
                   for rid in changed["flipped"])
