"""asaas.offtopic.scorer: scoring stored reviews into label_predictions through the normal
engine (resumable, on DuckDB and PostgreSQL), never as a sentiment source, and refusing a changed
artifact."""

from __future__ import annotations

import json
from pathlib import Path

from tests.events_alerts_data import write_reviews
from tests.helpers import err, ok, q
from tests.offtopic_data import product_reviews, train_offtopic


def test_scoring_writes_every_label_and_resumes(invoke, annotated, db_url):
    db_path = db_url  # DuckDB, then PostgreSQL (claimed chunks)
    ok(train_offtopic(invoke, annotated, "--labels", "bomb,about_game"))
    store = write_reviews(str(db_path), product_reviews())
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
    ok(train_offtopic(invoke, annotated, "--labels", "about_game"))
    write_reviews(str(db_path), product_reviews()).engine.dispose()
    line = err(invoke("alerts", "list", "--source", "offtopic"))
    assert "off-topic classifier, not a sentiment model" in line
    assert "only the local engine" in err(invoke("score", "--model", "offtopic", "--dataset",
                                                 "steam", "--split", "all", "--engine", "ray"))


def test_a_changed_artifact_is_refused(invoke, annotated, db_path):
    ok(train_offtopic(invoke, annotated, "--labels", "about_game"))
    write_reviews(str(db_path), product_reviews()).engine.dispose()
    (uri,), = q(db_path, "SELECT artifact_uri FROM model_versions")
    doc = json.loads((Path(uri) / "model.json").read_text())
    doc["members"]["about_game"][0]["intercept"] += 5
    (Path(uri) / "model.json").write_text(json.dumps(doc))
    line = err(invoke("score", "--model", "offtopic", "--dataset", "steam", "--split", "all"))
    assert "model.json" in line and "changed" in line
