"""asaas.topics.runs (complaint topics): a complaint planted into a product's period comes out
as its own topic, with readable keywords (the product's name left out); the other negatives are
assigned to the topics, whose shares the topic_shares view and `asaas events effects --topic`
follow over time; bad input is one line."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest

from asaas.topics import cluster as method
from tests.events_alerts_data import Review, write_reviews
from tests.helpers import err, ok, q
from tests.offtopic_data import fake_embedder

T0 = datetime(2020, 1, 1)
NAME = "Crashy Racer"

#: Ordinary complaints, each theme phrased several ways, all naming the game.
THEMES = {
    "short": ["Crashy Racer is too short for the price", "too short, finished Crashy Racer in "
              "two hours, not worth the price", "way too short for what it costs",
              "short campaign and a high price"],
    "controls": ["the controls are awful on keyboard", "keyboard controls feel terrible",
                 "awful controls, no rebinding of keys", "controls are clunky and awful"],
    "story": ["the story is boring and the writing is bad", "boring story, bad dialogue",
              "writing is bad and the story boring", "story makes no sense, boring"],
}
PLANTED = ["game crashes on start every time", "it crashes on launch, black screen then crash",
           "crashes at start, never reached the menu", "crash on start every single launch",
           "instant crash when I start it", "launch it and it crashes on start"]


def _reviews(planted: int = 20, seed: int = 0) -> list[Review]:
    """300 days of a game: one or two ordinary complaints a day, a few positives, and
    ``planted`` reviews about crashes on start in days 170-199 (before a patch on day 200)."""
    rng = np.random.default_rng(seed)
    out = []
    for d in range(300):
        for j in range(int(rng.integers(1, 3))):
            theme = list(THEMES)[int(rng.integers(len(THEMES)))]
            text = str(rng.choice(THEMES[theme]))
            out.append(Review("900", T0 + timedelta(days=d, hours=j), 0, text))
        out.append(Review("900", T0 + timedelta(days=d, hours=5), 1, "great fun"))
    for k in range(planted):
        day = 170 + int(rng.integers(0, 30))
        out.append(Review("900", T0 + timedelta(days=day, hours=9, minutes=k), 0,
                          f"{rng.choice(PLANTED)}. {NAME} please fix"))
    return out


@pytest.fixture
def fake_embeddings(monkeypatch):
    calls: list = []
    monkeypatch.setattr("asaas.offtopic.embedding.embedder", fake_embedder(calls))
    return calls


def _planted_topic(db_path, run: int) -> tuple[int, float, float]:
    """(topic, recall, purity) of the topic holding most planted reviews of the run's period."""
    rows = q(db_path, "SELECT rt.topic_no, r.text LIKE '%please fix%' FROM review_topics rt "
                      f"JOIN reviews r ON r.id = rt.review_id WHERE rt.topic_run_id = {run} "
                      "AND rt.in_period")
    topics = np.array([t for t, _ in rows])
    planted = np.array([p for _, p in rows], dtype=bool)
    best = np.bincount(topics[planted]).argmax()
    return (int(best), float((topics[planted] == best).mean()),
            float(planted[topics == best].mean()))


def test_a_planted_complaint_is_its_own_topic(invoke, db_path, fake_embeddings):
    write_reviews(str(db_path), _reviews(), names={"900": NAME}).engine.dispose()
    out = ok(invoke("topics", NAME, "--since", "2020-06-19", "--until", "2020-07-18"))
    assert "topic run 1:" in out and "Crashy Racer (900)" in out
    topic, recall, purity = _planted_topic(db_path, 1)
    assert topic != method.OTHER and recall >= 0.7 and purity >= 0.7
    (keywords,), = q(db_path, f"SELECT keywords FROM topics WHERE topic_run_id = 1 "
                              f"AND topic_no = {topic}")
    assert "crash" in keywords or "crashes" in keywords
    every = " ".join(k for (k,) in q(db_path, "SELECT keywords FROM topics"))
    assert "crashy" not in every and "racer" not in every  # the product's name is left out
    # The other negatives of the product were assigned to the topics (or to other).
    (n_period, n_assigned), = q(db_path, "SELECT n_reviews, n_assigned FROM topic_runs")
    (total,), = q(db_path, "SELECT count(*) FROM reviews WHERE label = 0")
    assert n_period + n_assigned == total
    # Every review was embedded once: the period, then the rest.
    assert sum(n for _, n in fake_embeddings) == total


def test_topic_share_falls_after_the_patch(invoke, db_url, fake_embeddings):
    db_path = db_url  # DuckDB, then PostgreSQL
    write_reviews(str(db_path), _reviews(planted=40), names={"900": NAME}).engine.dispose()
    ok(invoke("events", "add", "900", "--at", "2020-07-19", "--kind", "patch",
              "--title", "crash fix"))
    ok(invoke("topics", "900", "--since", "2020-06-19", "--until", "2020-07-18"))
    topic, _, _ = _planted_topic(db_path, 1)
    out = ok(invoke("events", "effects", "900", "--topic", f"1:{topic}", "--format", "json"))
    (effect,) = json.loads(out)
    assert effect["source"].startswith(f"topic 1:{topic} (")
    assert effect["share_before"] > 0.3 and effect["share_after"] < 0.1
    assert effect["diff_ci_high"] < 0 and effect["diff_significant"] == "yes"
    # The same topic alone (the product's latest run) and through the view, per month.
    assert json.loads(ok(invoke("events", "effects", "900", "--topic", str(topic),
                                "--format", "json")))[0]["diff"] == effect["diff"]
    rows = q(db_path, f"SELECT period_start, topic_share, ci_low, ci_high FROM topic_shares "
                      f"WHERE topic_run_id = 1 AND topic_no = {topic} AND freq = 'month' "
                      "ORDER BY period_start")
    shares = {str(r[0]): r[1] for r in rows}
    assert shares["2020-07-01"] > 0.3 and shares["2020-10-01"] < 0.1
    assert all(lo <= s <= hi for _, s, lo, hi in rows)
    assert "topic_share" in ok(invoke("topics", "series", f"1:{topic}"))


def test_show_list_and_update(invoke, db_path, fake_embeddings):
    write_reviews(str(db_path), _reviews(), names={"900": NAME}).engine.dispose()
    ok(invoke("topics", "900", "--since", "2020-06-19", "--until", "2020-07-18", "--no-assign"))
    assert q(db_path, "SELECT n_assigned FROM topic_runs") == [(0,)]
    assert "Representative reviews" in ok(invoke("topics", "show", "1"))
    assert "900" in ok(invoke("topics", "list"))
    assert "assigned" in ok(invoke("topics", "update", "1"))
    (n_assigned,), = q(db_path, "SELECT n_assigned FROM topic_runs")
    assert n_assigned > 300
    assert "assigned 0 " in ok(invoke("topics", "update", "1"))  # nothing new since
    data = json.loads(ok(invoke("topics", "show", "1", "--format", "json")))
    assert data["run"] == 1 and data["topics"][0]["keywords"]


def test_topics_of_an_alert(invoke, db_path, fake_embeddings):
    rows = [r for r in _reviews(planted=0) if r.at < T0 + timedelta(days=120)]
    rows += [Review("900", T0 + timedelta(days=100, minutes=k), 0,
                    f"{PLANTED[k % len(PLANTED)]}. {NAME} please fix") for k in range(30)]
    write_reviews(str(db_path), rows, names={"900": NAME}).engine.dispose()
    listed = json.loads(ok(invoke("alerts", "list", "900", "--format", "json")))
    (alert,) = [a for a in listed if a["kind"] == "negative"]
    out = ok(invoke("topics", "--alert", alert["alert_id"], "--min-reviews", "20"))
    assert f"alert {alert['alert_id']}" in out
    topic, recall, purity = _planted_topic(db_path, 1)
    assert recall >= 0.7 and purity >= 0.7


def test_bad_topic_requests_are_one_line(invoke, db_path, fake_embeddings):
    rows = _reviews(planted=0)
    rows += [Review("901", T0 + timedelta(days=d), 1, "lovely") for d in range(60)]
    rows += [Review("902", T0 + timedelta(days=d), 0, "   ") for d in range(60)]
    store = write_reviews(str(db_path), rows, names={"900": NAME})
    with store.transaction() as conn:  # texts that are empty once trimmed
        conn.exec_driver_sql("UPDATE reviews SET text = ' ' WHERE product_id = (SELECT id FROM "
                             "products WHERE external_id = '902')")
    store.engine.dispose()
    assert "too few negative reviews for topics: " in err(
        invoke("topics", "900", "--since", "2020-03-01", "--until", "2020-03-02"))
    assert "no negative reviews of Game 901" in err(invoke("topics", "901"))
    assert "no negative reviews with a text (60 have an empty one)" in err(
        invoke("topics", "902"))
    assert "unknown product" in err(invoke("topics", "nope"))
    assert "drop --since and --until" in err(
        invoke("topics", "--alert", "negative:900:2020-01-20", "--since", "2020-01-01"))
    assert "--distance 3.0 is out of range" in err(invoke("topics", "900", "--distance", "3"))
    assert "name a PRODUCT" in err(invoke("topics", "--since", "2020-01-01"))
    assert "no topic run 7" in err(invoke("topics", "show", "7"))
    assert "bad topic" in err(invoke("events", "effects", "900", "--topic", "x:y"))
    ok(invoke("events", "add", "900", "--at", "2020-07-19", "--kind", "patch", "--title", "fix"))
    assert "no topic runs yet" in err(invoke("events", "effects", "900", "--topic", "1"))
    ok(invoke("topics", "900", "--no-assign"))
    assert "has no topic 99" in err(invoke("events", "effects", "900", "--topic", "1:99"))
    assert "drop --source" in err(invoke("events", "effects", "900", "--topic", "1:1",
                                         "--source", "m"))
