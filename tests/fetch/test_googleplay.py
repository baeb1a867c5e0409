"""`asaas fetch play` at google-play-scraper's documented boundary, never the network: its public
``reviews(app_id, lang, country, sort, count, continuation_token) -> (list of dicts, token)`` is
replaced by one that pages through recorded-shape reviews (naive local times, as the library
gives them), and, for failures, the library's own request function is replaced by one that fails
(the real ``reviews`` then swallows the error, which asaas must still see)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import err, ok, q
from tests.requires import require

try:
    import google_play_scraper as gps  # the play extra, in dev: `make test` installs it
except ImportError:  # skipped here, a failure under CI (the play_library fixture)
    gps = None


@pytest.fixture(autouse=True)
def play_library():
    return require("google-play-scraper")

APP = "com.example.notes"
T0 = 1_714_000_000  # 2024-04-24T23:06:40Z


def play_review(i: int, score: int, *, at: int | None = None, reply: str | None = None,
                replied: int | None = None, text: str | None = None) -> dict:
    """One review as google-play-scraper 1.2.7 returns it (times: naive local, as
    ``datetime.fromtimestamp`` gives them)."""
    return {
        "reviewId": f"gp:AOqpTOH{i:06d}", "userName": f"user {i}",
        "userImage": "https://play-lh.googleusercontent.com/a/x", "content":
        text if text is not None else f"review {i}: {'great' if score > 3 else 'crashes'} app",
        "score": score, "thumbsUpCount": i % 7, "reviewCreatedVersion": "2.1.0",
        "at": datetime.fromtimestamp(at if at is not None else T0 - 3600 * i),
        "replyContent": reply, "repliedAt": datetime.fromtimestamp(replied) if replied else None,
        "appVersion": "2.1.0",
    }


class FakePlay:
    """``google_play_scraper.reviews`` over a list of reviews, newest first (by ``at``), with
    the library's own continuation-token class and its end-of-list behaviour (the last page
    comes with a token whose string is None)."""

    def __init__(self, reviews: list[dict]) -> None:
        self.reviews = reviews
        self.calls: list[dict] = []
        self.faults: list[str] = []

    def __call__(self, app_id, lang="en", country="us", sort=None, count=100,
                 filter_score_with=None, filter_device_with=None, continuation_token=None):
        import socket

        from google_play_scraper.features.reviews import _ContinuationToken

        start = int(continuation_token.token[1:]) if continuation_token is not None else 0
        self.calls.append({"app_id": app_id, "lang": lang, "country": country, "sort": sort,
                           "count": count, "start": start, "timeout": socket.getdefaulttimeout()})
        ordered = sorted(self.reviews, key=lambda r: r["at"], reverse=True)
        page = [dict(r) for r in ordered[start:start + count]]
        end = start + count
        token = f"T{end}" if end < len(ordered) else None
        fault = self.faults.pop(0) if self.faults else None
        if fault == "missing" and page:
            del page[0]["score"]
        if fault == "loop":
            token = continuation_token.token if continuation_token else "T0"
        return page, _ContinuationToken(token, lang, country, sort, count, None, None)


def snapshot(n: int = 250) -> list[dict]:
    scores = [5, 4, 1, 3, 2, 5, 5, 1]
    return [play_review(i, scores[i % len(scores)],
                        reply="Thanks! Fixed in 2.1.1." if i % 10 == 2 else None,
                        replied=T0 - 3600 * i + 7200 if i % 10 == 2 else None)
            for i in range(n)]


@pytest.fixture
def fake(monkeypatch):
    server = FakePlay(snapshot())
    monkeypatch.setattr(gps, "reviews", server)
    monkeypatch.setenv("ASAAS_FETCH_RATE", "500")
    monkeypatch.setenv("ASAAS_FETCH_BACKOFF", "0.01")
    monkeypatch.setenv("ASAAS_FETCH_ATTEMPTS", "3")
    monkeypatch.setattr("asaas.fetch.http.pause", lambda _s: None)
    return server


@pytest.fixture
def new_york(monkeypatch):
    """The library's times are this machine's local time: make it one with an offset."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def landing(tmp_path: Path) -> Path:
    return tmp_path / "home" / "landing" / "googleplay" / APP


def test_fetch_lands_pages_in_utc_and_ingests_with_the_star_rule(new_york, invoke, fake,
                                                                  db_path, tmp_path):
    out = ok(invoke("fetch", "play", APP))
    assert (f"google play app {APP}: 3 pages in 3 requests (0 retries), 250 reviews: 250 new"
            in out) and "end of list; ingested 250" in out
    assert [(c["lang"], c["country"], c["count"], c["sort"], c["timeout"]) for c in fake.calls] \
        == [("en", "us", 100, gps.Sort.NEWEST, 30.0)] * 3
    [run] = [p for p in landing(tmp_path).iterdir() if p.is_dir()]
    pages = sorted(p.name for p in (run / "pages").iterdir())
    assert pages == [f"page-000{i}-review_{APP}.json" for i in (1, 2, 3)]
    page = json.loads((run / "pages" / pages[0]).read_text())
    assert page["source"] == "google-play-scraper" and page["app_id"] == APP
    assert page["continuation_token"] == "T100" and len(page["reviews"]) == 100
    first = page["reviews"][0]
    # The library's naive New York time, landed as UTC.
    assert first["at"] == "2024-04-24T23:06:40+00:00" and first["reviewId"] == "gp:AOqpTOH000000"
    assert q(db_path, "SELECT reviewed_at, review_updated_at FROM reviews WHERE external_id = "
                      "'gp:AOqpTOH000000'") == [(datetime(2024, 4, 24, 23, 6, 40),) * 2]
    # 4-5 stars positive, 1-2 negative, 3 unlabelled; the stars kept as the rating.
    assert q(db_path, "SELECT CAST(rating AS INTEGER), label, count(*) FROM reviews "
                      "GROUP BY 1, 2 ORDER BY 1") == [
        (1, 0, 62), (2, 0, 31), (3, None, 31), (4, 1, 32), (5, 1, 94)]
    assert q(db_path, "SELECT count(*) FROM reviews WHERE developer_response IS NOT NULL AND "
                      "developer_responded_at > reviewed_at") == [(25,)]
    assert q(db_path, "SELECT DISTINCT p.external_id, p.kind, r.dataset, r.language FROM "
                      "reviews r JOIN products p ON p.id = r.product_id") == [
        (APP, "app", "googleplay", "en")]
    assert q(db_path, "SELECT sum(votes_up) FROM reviews") == [(sum(i % 7 for i in range(250)),)]


def test_three_star_reviews_can_count_either_way(invoke, fake, db_path):
    ok(invoke("fetch", "play", APP, "--three-stars", "positive"))
    assert q(db_path, "SELECT DISTINCT label FROM reviews WHERE rating = 3") == [(1,)]


def test_landed_pages_replay_through_ingest(invoke, fake, db_path, tmp_path):
    ok(invoke("fetch", "play", APP))
    [run] = [p for p in landing(tmp_path).iterdir() if p.is_dir()]
    out = ok(invoke("ingest", "--format", "googleplay", "--source", str(run / "pages"),
                    "--dataset", "replay", "--label-map", "3=0"))
    assert "inserted 250" in out
    assert q(db_path, "SELECT count(*) FROM reviews WHERE dataset = 'replay' AND rating = 3 "
                      "AND label = 0") == [(31,)]


def test_incremental_fetch_sees_answers_and_edits(invoke, fake, db_path):
    ok(invoke("fetch", "play", APP))
    out = ok(invoke("fetch", "play", APP))
    assert "1 page in 1 request" in out and "100 held unchanged; caught up" in out
    # Later: the developer answers two 1-star reviews, one author edits to 5 stars (Play then
    # dates the review by the edit, so it comes first), three new reviews.
    reviews = fake.reviews
    edited = reviews[2]  # a 1-star review
    assert edited["score"] == 1
    now = T0 + 86400
    for r in (reviews[2], reviews[230]):
        r["replyContent"], r["repliedAt"] = "Sorry! Fixed in 2.1.2.", datetime.fromtimestamp(now)
    edited.update(score=5, content="works now, thanks", at=datetime.fromtimestamp(now + 60))
    reviews += [play_review(1000 + k, 4, at=now + 120 + k) for k in range(3)]
    out = ok(invoke("fetch", "play", APP))
    assert "3 new, 1 changed" in out and "ingested 3, updated 1" in out
    assert q(db_path, "SELECT field, old_value, new_value FROM review_history ORDER BY field"
             )[:3] == [("developer_responded_at", "2024-04-24T23:06:40", "2024-04-25T23:06:40"),
                       ("developer_response", "Thanks! Fixed in 2.1.1.", "Sorry! Fixed in 2.1.2."),
                       ("label", "0", "1")]
    fields = [r[0] for r in q(db_path, "SELECT field FROM review_history ORDER BY field")]
    assert fields == ["developer_responded_at", "developer_response", "label", "rating",
                      "review_updated_at", "text"]
    # The other answered review did not move in Play's order: --full refreshes it.
    out = ok(invoke("fetch", "play", APP, "--full"))
    assert "updated 1" in out


def test_capped_fetch_goes_on_from_its_continuation_token(invoke, fake, db_path):
    out = ok(invoke("fetch", "play", APP, "--max-pages", "1"))
    assert "1 page in 1 request" in out and "max pages; ingested 100" in out
    out = ok(invoke("fetch", "play", APP))
    assert [c["start"] for c in fake.calls] == [0, 100, 200]
    assert "ingested 150" in out and q(db_path, "SELECT count(*) FROM reviews") == [(250,)]


def test_a_failed_request_is_not_taken_for_the_end_of_the_list(invoke, db_path, monkeypatch):
    """The real reviews() swallows the error and answers ([], token None), as at the end of the
    list; asaas sees the error, retries, and stops with one line."""
    from urllib.error import URLError

    from google_play_scraper.features import reviews as feature

    calls = []

    def down(url, data, headers):
        calls.append(url)
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(feature, "post", down)
    monkeypatch.setenv("ASAAS_FETCH_ATTEMPTS", "2")
    monkeypatch.setattr("asaas.fetch.http.pause", lambda _s: None)
    assert gps.reviews(APP)[0] == []  # what the library itself makes of it
    calls.clear()
    line = err(invoke("fetch", "play", APP), after_log_lines=True)
    assert f"Error: google play app {APP} page 1: the request failed (URLError: " in line
    assert "Temporary failure in name resolution" in line and "(tried 2 times)" in line
    assert len(calls) == 2 and all("play.google.com" in c for c in calls)
    assert q(db_path, "SELECT count(*) FROM reviews") == [(0,)]


def test_a_review_missing_fields_stops_the_app_with_one_line(invoke, fake, db_path):
    fake.faults = ["missing"] * 3
    line = err(invoke("fetch", "play", APP), after_log_lines=True)
    assert f"google play app {APP} page 1: review 1 of the page (id gp:AOqpTOH000000) lacks " \
           "score; google-play-scraper's output changed shape (tried 3 times)" in line
    assert q(db_path, "SELECT count(*) FROM reviews") == [(0,)]
    ok(invoke("fetch", "play", APP))  # once the pages are whole again
    assert q(db_path, "SELECT count(*) FROM reviews") == [(250,)]


def test_a_token_coming_back_is_a_loop(invoke, fake, db_path):
    fake.faults = [None, "loop"]
    line = err(invoke("fetch", "play", APP), after_log_lines=True)
    assert f"google play app {APP} page 2: the continuation token came back again (a loop)" \
        in line
    assert q(db_path, "SELECT count(*) FROM reviews") == [(0,)]


@pytest.mark.parametrize("app", ["notes", "com.example notes", "1com.x", "com..x"])
def test_bad_app_id_is_one_line_and_creates_nothing(invoke, db_path, app):
    assert "is not a Google Play app id" in err(invoke("fetch", "play", app))
    assert not db_path.exists()


def test_bad_lang_and_country_are_one_line(invoke, db_path):
    assert "--lang 'english'" in err(invoke("fetch", "play", APP, "--lang", "english"))
    assert "--country 'usa'" in err(invoke("fetch", "play", APP, "--country", "usa"))


def test_without_the_extra_the_fix_is_named(invoke, db_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "google_play_scraper", None)
    assert "pip install 'asaas[play]'" in err(invoke("fetch", "play", APP))
    assert not db_path.exists()


def test_importing_the_library_keeps_certificate_checks(tmp_path):
    """google-play-scraper turns TLS certificate checks off for the whole process when
    imported; asaas imports it with them put back (a fresh process each: imports happen once)."""
    probe = ("import ssl; {}; print(ssl._create_default_https_context is "
             "ssl.create_default_context)")
    plain = subprocess.run([sys.executable, "-c", probe.format("import google_play_scraper")],
                           capture_output=True, text=True, check=True)
    assert plain.stdout.strip() == "False"  # the library alone: checks off
    ours = subprocess.run([sys.executable, "-c", probe.format(
        "from asaas.fetch.googleplay import import_scraper; import_scraper()")],
        capture_output=True, text=True, check=True)
    assert ours.stdout.strip() == "True"
