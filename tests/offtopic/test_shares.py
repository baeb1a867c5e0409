"""asaas.offtopic.shares and reviews: the corrected share's formula and interval, and what
`asaas alerts show` prints of an alert's off-topic and category shares (too few reviews and
unscored reviews say so)."""

from __future__ import annotations

import json
import math

import pytest

from asaas.offtopic import shares as sh
from tests.events_alerts_data import write_reviews
from tests.helpers import ok
from tests.offtopic_data import bomb_db, product_reviews, train_offtopic, write_background


def test_corrected_share_matches_the_formula():
    rates = sh.Rates(hit=0.8, false_alarm=0.1, n_yes=400, n_no=600)
    pi, low, high, reason = sh.corrected_share(45, 100, rates)
    assert reason is None
    assert pi == pytest.approx((0.45 - 0.1) / 0.7)
    z2 = sh.Z95 ** 2
    qa = (45 + z2 / 2) / (100 + z2)
    var = (qa * (1 - qa) / (100 + z2) + pi ** 2 * 0.8 * 0.2 / 400 + (1 - pi) ** 2 * 0.1 * 0.9
           / 600) / 0.49
    assert high - pi == pytest.approx(sh.Z95 * math.sqrt(var))
    assert low == pytest.approx(pi - sh.Z95 * math.sqrt(var))
    # Fewer reviews than the minimum, or a classifier that separates nothing: a reason.
    assert "too few reviews" in sh.corrected_share(5, 20, rates)[3]
    assert "barely tells" in sh.corrected_share(45, 100, sh.Rates(0.5, 0.45, 100, 100))[3]
    # Off-topic is the complement of "about the game", interval flipped.
    about = sh.share_of("about_game", 70, 100, rates)
    off = sh.off_topic(about)
    assert off.corrected == pytest.approx(1 - about.corrected)
    assert (off.low, off.high) == pytest.approx((1 - about.high, 1 - about.low))


def test_alerts_show_gives_corrected_offtopic_shares(invoke, annotated, db_path, tmp_path):
    bomb_db(invoke, annotated, db_path, tmp_path)
    listed = ok(invoke("alerts", "list", "700", "--format", "json"))
    (alert,) = [a for a in json.loads(listed) if a["kind"] == "negative"]
    out = ok(invoke("alerts", "show", alert["alert_id"]))
    assert "Off-topic and category shares of the alert's 61 negative reviews (offtopic v1" in out
    for label in ("off_topic", "about_game", "bomb", "developer"):
        assert label in out
    data = json.loads(ok(invoke("alerts", "show", alert["alert_id"], "--format", "json")))
    shares = {s["label"]: s for s in data["offtopic"]["shares"]}
    off = shares["off_topic"]
    assert off["reviews"] == 61 and off["corrected_share"] > 0.8
    assert off["ci"][0] <= off["corrected_share"] <= off["ci"][1]
    assert shares["bomb"]["with_burst"] is True  # the alert's reviews taken as the burst
    no_burst = json.loads(ok(invoke("alerts", "show", alert["alert_id"], "--format", "json",
                                    "--no-burst")))
    assert {s["label"]: s for s in no_burst["offtopic"]["shares"]}["bomb"]["with_burst"] is False
    assert "Off-topic" not in ok(invoke("alerts", "show", alert["alert_id"], "--offtopic",
                                        "none"))


def test_too_few_reviews_for_a_share_say_so(invoke, annotated, db_path, tmp_path):
    background = write_background(tmp_path / "ordinary.parquet")
    ok(train_offtopic(invoke, annotated, "--labels", "about_game", "--features", "tfidf"))
    write_reviews(str(db_path), product_reviews(bomb=14)).engine.dispose()
    ok(invoke("score", "--model", "offtopic", "--dataset", "steam", "--split", "all"))
    listed = json.loads(ok(invoke("alerts", "list", "700", "--format", "json",
                                  "--min-negative", "5")))
    (alert,) = [a for a in listed if a["kind"] == "negative"]
    out = ok(invoke("alerts", "show", alert["alert_id"], "--min-negative", "5"))
    assert "too few reviews for a share" in out
    assert background.exists()


def test_unscored_reviews_are_named(invoke, annotated, db_path, tmp_path):
    ok(train_offtopic(invoke, annotated, "--labels", "about_game"))
    write_reviews(str(db_path), product_reviews()).engine.dispose()
    listed = json.loads(ok(invoke("alerts", "list", "700", "--format", "json")))
    (alert,) = [a for a in listed if a["kind"] == "negative"]
    out = ok(invoke("alerts", "show", alert["alert_id"]))
    assert "61 of 61 reviews are not scored by offtopic v1: `asaas score --model offtopic" in out
