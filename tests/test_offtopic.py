"""The off-topic classifier: training with the leave-one-incident-out evaluation, its artifact
(no pickle, checksummed), scoring into label_predictions (resumable), corrected shares, and the
bad inputs."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from asaas.offtopic import shares as sh
from asaas.offtopic.data import load_annotations, parse_labels
from asaas.offtopic.features import Tfidf, parse_features
from events_alerts_data import Review, write_reviews
from helpers import err, ok, q
from offtopic_data import (OFF_TOPIC, ON_TOPIC, annotated_frame, fake_embedder, write_annotated,
                           write_background)

T0 = datetime(2021, 1, 1)


@pytest.fixture
def fake_embeddings(monkeypatch):
    calls: list = []
    monkeypatch.setattr("asaas.offtopic.embedding.embedder", fake_embedder(calls))
    return calls


@pytest.fixture
def annotated(tmp_path) -> Path:
    return write_annotated(tmp_path / "incidents.parquet")


def _train(invoke, source, *extra):
    return invoke("train", "offtopic", "--source", str(source), *extra)


# -- training and its evaluation ------------------------------------------------------------------


def test_training_evaluates_each_held_out_incident_and_registers_one_version(invoke, annotated,
                                                                            db_path):
    out = ok(_train(invoke, annotated, "--labels", "bomb,about_game,developer"))
    assert "trained offtopic v1 (bomb, about_game, developer; blocks tfidf)" in out
    for incident in ("Alpha store deal", "Beta patch", "Gamma politics", "Delta paid mods"):
        assert incident in out  # one row per held-out incident and label
    (kind, params, metrics, sha), = q(db_path, "SELECT kind, params, metrics, artifact_sha256 "
                                              "FROM model_versions")
    assert kind == "offtopic"
    metrics = json.loads(metrics)
    about = metrics["labels"]["about_game"]
    assert set(about["incidents"]) == {"Alpha store deal", "Beta patch", "Gamma politics",
                                       "Delta paid mods"}
    # The words decide "about the game" here: every held-out incident is ranked almost right.
    assert about["worst_auc"] > 0.9 and about["mean_ba"] > 0.85
    for fold in about["incidents"].values():
        assert fold["auc_low"] <= fold["auc"] <= fold["auc_high"]
        assert fold["ba_low"] <= fold["ba"] <= fold["ba_high"]
    # The pooled error rates that correct shares, from the held-out predictions.
    assert about["n_positive"] + about["n_negative"] == 160
    assert about["hit_rate"] == pytest.approx(about["tp"] / about["n_positive"])
    # Plain data, checksummed: no pickle anywhere in the artifact.
    files = set(json.loads(sha))
    assert files == {"model.json", "arrays.npz"}
    assert json.loads(params)["labels"] == ["bomb", "about_game", "developer"]


def test_models_show_prints_the_evaluation(invoke, annotated):
    ok(_train(invoke, annotated, "--labels", "about_game"))
    out = ok(invoke("models", "show", "offtopic"))
    assert "offtopic v1: offtopic" in out and "Leave one incident out" in out
    assert "Gamma politics" in out and "hit_rate_s" in out
    data = json.loads(ok(invoke("models", "show", "offtopic:1", "--format", "json")))
    assert data["metrics"]["labels"]["about_game"]["mean_auc"] > 0.9
    assert "no model named 'nope'" in err(invoke("models", "show", "nope"))


def test_the_evaluation_never_sees_the_held_out_incident(annotated):
    """An incident whose reviews share a word with their label only inside that incident:
    leave-one-incident-out cannot learn it, a random split would."""
    from asaas.offtopic.train import leave_one_incident_out

    df = annotated_frame()
    # In Delta, every 'about the game' review says "zebra", and nowhere else.
    delta = df.project == "Delta paid mods"
    df.loc[delta & (df["is-rating-game-related"] == "Ja"), "review"] = "zebra zebra zebra"
    df.loc[delta & (df["is-rating-game-related"] == "Nein"), "review"] = "yak yak yak"
    path = annotated.with_name("leak.parquet")
    df.to_parquet(path, index=False)
    data = load_annotations(path, parse_labels("about_game"))
    result = leave_one_incident_out(data, ["tfidf"], {}, None, [])
    held = result["about_game"]["incidents"]["Delta paid mods"]
    assert held["auc"] == pytest.approx(0.5, abs=0.01)  # nothing learnt elsewhere applies


def test_embedding_blocks_and_the_burst_are_fused(invoke, annotated, tmp_path, fake_embeddings,
                                                  db_path):
    background = write_background(tmp_path / "ordinary.parquet")
    out = ok(_train(invoke, annotated, "--labels", "bomb,about_game", "--features",
                    "tfidf,minilm,burst", "--background", str(background)))
    assert "bomb+burst" in out  # the bomb label is evaluated with and without the burst
    (metrics, params), = q(db_path, "SELECT metrics, params FROM model_versions")
    metrics, params = json.loads(metrics), json.loads(params)
    assert set(metrics["labels"]) == {"bomb", "bomb+burst", "about_game"}
    assert params["burst_labels"] == ["bomb"]
    assert params["embedders"]["minilm"]["weights"] == "fake-hashed-bag-of-words"
    assert ("minilm", 160) in fake_embeddings  # every review embedded once for training


def test_saved_model_scores_like_the_fitted_one(annotated, tmp_path):
    from asaas.offtopic.model import OfftopicModel, fit_model

    data = load_annotations(annotated, parse_labels("bomb,about_game"))
    model = fit_model(data.texts, data.groups, data.labels, ["tfidf"], {})
    model.save(tmp_path)
    again = OfftopicModel.load(tmp_path)
    texts = ["boycott the publisher", "the combat feels great", ""]
    a, b = model.text_scores(texts, {}), again.text_scores(texts, {})
    for label in a:
        np.testing.assert_allclose(a[label], b[label])
    assert a["about_game"][1] > 0 > a["about_game"][0]


def test_tfidf_transform_is_scikit_learns():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["the game crashes", "the game is fun fun fun", "crashes and crashes", "fun"]
    ours = Tfidf.fit(texts)
    theirs = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(texts)
    np.testing.assert_allclose(ours.transform(texts).toarray(),
                               theirs.transform(texts).toarray())


@pytest.mark.parametrize("args, message", [
    (["--source", "missing.parquet"], "does not exist"),
    (["--labels", "bomb,nonsense"], "unknown label 'nonsense'"),
    (["--labels", "bomb=no-such-column"], "has no column 'no-such-column'"),
    (["--features", "tfidf,bert"], "unknown block 'bert'"),
    (["--features", "burst"], "at least one of tfidf, minilm, e5"),
    (["--features", "tfidf,burst"], "needs ordinary reviews"),
    (["--group-column", "review"], "each must be a column of its own"),
    (["--text-column", "nope"], "has no column 'nope'"),
])
def test_bad_training_input_is_one_line(invoke, annotated, tmp_path, args, message):
    base = ["train", "offtopic"] + ([] if "--source" in args else ["--source", str(annotated)])
    assert message in err(invoke(*base, *args), after_log_lines=True)


def test_bad_annotations(invoke, tmp_path):
    df = annotated_frame()
    bad = df.assign(**{"is-review-bombing": "vielleicht"})
    bad.to_parquet(tmp_path / "maybe.parquet", index=False)
    assert "neither yes nor no" in err(_train(invoke, tmp_path / "maybe.parquet"))
    df[df.project.isin(["Beta patch", "Alpha store deal"])].to_parquet(tmp_path / "two.parquet")
    assert "needs at least 3" in err(_train(invoke, tmp_path / "two.parquet"))
    df.assign(**{"criticism-praise-political": "Nein"}).to_parquet(tmp_path / "never.parquet")
    assert "always no" in err(_train(invoke, tmp_path / "never.parquet"))
    df.assign(review="  ").to_parquet(tmp_path / "empty.parquet")
    assert "no rows with a text" in err(_train(invoke, tmp_path / "empty.parquet"))
    (tmp_path / "notes.txt").write_text("hello")
    assert "unknown file type" in err(_train(invoke, tmp_path / "notes.txt"))


def test_parse_features_and_labels():
    assert parse_features("TFIDF, e5") == ["tfidf", "e5"]
    assert parse_labels("about_game,rage=angry-column") == {
        "about_game": "is-rating-game-related", "rage": "angry-column"}


# -- scoring stored reviews -----------------------------------------------------------------------


def _product_reviews(n_days: int = 60, bomb_day: int = 45, bomb: int = 60) -> list[Review]:
    """A game with a few ordinary reviews a day, then a burst of off-topic negatives."""
    rng = np.random.default_rng(3)
    rows = []
    for d in range(n_days):
        for j in range(4):
            text = " and ".join(rng.choice(ON_TOPIC, 2, replace=False))
            rows.append(Review("700", T0 + timedelta(days=d, hours=j), int(j > 0), text))
    for j in range(bomb):
        text = " ".join(rng.choice(OFF_TOPIC, 2, replace=False))
        rows.append(Review("700", T0 + timedelta(days=bomb_day, minutes=j), 0, text))
    return rows


def test_scoring_writes_every_label_and_resumes(invoke, annotated, db_url):
    db_path = db_url  # DuckDB, then PostgreSQL (claimed chunks)
    ok(_train(invoke, annotated, "--labels", "bomb,about_game"))
    store = write_reviews(str(db_path), _product_reviews())
    n = q(db_path, "SELECT count(*) FROM reviews")[0][0]
    store.engine.dispose()
    out = ok(invoke("score", "--model", "offtopic", "--dataset", "steam", "--split", "all",
                    "--max-reviews", "100"))
    assert "scored 100 reviews with offtopic v1" in out
    out = ok(invoke("score", "--model", "offtopic", "--dataset", "steam", "--split", "all"))
    assert f"scored {n - 100} reviews" in out and "100 already done" in out
    assert "nothing to score" in ok(invoke("score", "--model", "offtopic", "--dataset", "steam",
                                           "--split", "all"))
    assert q(db_path, "SELECT label_name, count(*) FROM label_predictions GROUP BY 1 "
                      "ORDER BY 1") == [("about_game", n), ("bomb", n)]
    assert q(db_path, "SELECT count(*) FROM predictions") == [(0,)]  # no sentiment rows
    (n_off,), = q(db_path, "SELECT count(*) FROM label_predictions lp JOIN reviews r ON "
                           "r.id = lp.review_id WHERE lp.label_name = 'about_game' AND "
                           "lp.predicted = 0 AND r.reviewed_at >= TIMESTAMP '2021-02-15'")
    assert n_off >= 55  # the burst's 60 off-topic reviews, nearly all caught


def test_an_offtopic_version_is_no_sentiment_source(invoke, annotated, db_path):
    ok(_train(invoke, annotated, "--labels", "about_game"))
    write_reviews(str(db_path), _product_reviews()).engine.dispose()
    line = err(invoke("alerts", "list", "--source", "offtopic"))
    assert "off-topic classifier, not a sentiment model" in line
    assert "only the local engine" in err(invoke("score", "--model", "offtopic", "--dataset",
                                                 "steam", "--split", "all", "--engine", "ray"))


def test_a_changed_artifact_is_refused(invoke, annotated, db_path):
    ok(_train(invoke, annotated, "--labels", "about_game"))
    write_reviews(str(db_path), _product_reviews()).engine.dispose()
    (uri,), = q(db_path, "SELECT artifact_uri FROM model_versions")
    doc = json.loads((Path(uri) / "model.json").read_text())
    doc["members"]["about_game"][0]["intercept"] += 5
    (Path(uri) / "model.json").write_text(json.dumps(doc))
    line = err(invoke("score", "--model", "offtopic", "--dataset", "steam", "--split", "all"))
    assert "model.json" in line and "changed" in line


# -- shares of an alert ---------------------------------------------------------------------------


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


def _bomb_db(invoke, annotated, db_path, tmp_path, *extra):
    background = write_background(tmp_path / "ordinary.parquet")
    ok(_train(invoke, annotated, "--labels", "bomb,about_game,developer", "--features",
              "tfidf,burst", "--background", str(background), *extra))
    write_reviews(str(db_path), _product_reviews()).engine.dispose()
    ok(invoke("score", "--model", "offtopic", "--dataset", "steam", "--split", "all"))


def test_alerts_show_gives_corrected_offtopic_shares(invoke, annotated, db_path, tmp_path):
    _bomb_db(invoke, annotated, db_path, tmp_path)
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
    ok(_train(invoke, annotated, "--labels", "about_game", "--features", "tfidf"))
    write_reviews(str(db_path), _product_reviews(bomb=14)).engine.dispose()
    ok(invoke("score", "--model", "offtopic", "--dataset", "steam", "--split", "all"))
    listed = json.loads(ok(invoke("alerts", "list", "700", "--format", "json",
                                  "--min-negative", "5")))
    (alert,) = [a for a in listed if a["kind"] == "negative"]
    out = ok(invoke("alerts", "show", alert["alert_id"], "--min-negative", "5"))
    assert "too few reviews for a share" in out
    assert background.exists()


def test_unscored_reviews_are_named(invoke, annotated, db_path, tmp_path):
    ok(_train(invoke, annotated, "--labels", "about_game"))
    write_reviews(str(db_path), _product_reviews()).engine.dispose()
    listed = json.loads(ok(invoke("alerts", "list", "700", "--format", "json")))
    (alert,) = [a for a in listed if a["kind"] == "negative"]
    out = ok(invoke("alerts", "show", alert["alert_id"]))
    assert "61 of 61 reviews are not scored by offtopic v1: `asaas score --model offtopic" in out


def test_timeline_sets_offtopic_reviews_aside(invoke, annotated, db_path, tmp_path):
    _bomb_db(invoke, annotated, db_path, tmp_path)
    out = ok(invoke("timeline", "700", "--freq", "week", "--offtopic", "offtopic",
                    "--format", "csv", "--html", str(tmp_path / "t.html")))
    rows = [line.split(",") for line in out.splitlines()]
    header = rows.index(next(r for r in rows if "on_topic_negative_share" in r))
    cols = rows[header]
    body = [dict(zip(cols, r)) for r in rows[header + 1:]]
    burst = next(r for r in body if r["period_start"] == "2021-02-15")
    # 88 reviews that week, 67 negative, 60 of them off-topic: set aside, the share is the
    # week's ordinary one again (1 in 4).
    assert float(burst["observed_negative_share"]) == pytest.approx(67 / 88)
    assert float(burst["on_topic_negative_share"]) < 0.4
    page = (tmp_path / "t.html").read_text()
    assert 'class="offtopic"' in page and "off-topic periods" in page
    via_sql = q(db_path, "SELECT n_offtopic FROM offtopic_timeline WHERE freq = 'week' AND "
                         "period_start = DATE '2021-02-15'")
    assert via_sql[0][0] >= 55
