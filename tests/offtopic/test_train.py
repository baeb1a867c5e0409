"""asaas.offtopic.train (and data, features): training with the leave-one-incident-out evaluation
stored with the version, `asaas models show`, and the bad training inputs, one line each."""

from __future__ import annotations

import json

import pytest

from asaas.offtopic.data import load_annotations, parse_labels
from asaas.offtopic.features import parse_features
from tests.helpers import err, ok, q
from tests.offtopic_data import annotated_frame, train_offtopic


def test_training_evaluates_each_held_out_incident_and_registers_one_version(invoke, annotated,
                                                                            db_path):
    out = ok(train_offtopic(invoke, annotated, "--labels", "bomb,about_game,developer"))
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
    ok(train_offtopic(invoke, annotated, "--labels", "about_game"))
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
    assert "neither yes nor no" in err(train_offtopic(invoke, tmp_path / "maybe.parquet"))
    df[df.project.isin(["Beta patch", "Alpha store deal"])].to_parquet(tmp_path / "two.parquet")
    assert "needs at least 3" in err(train_offtopic(invoke, tmp_path / "two.parquet"))
    df.assign(**{"criticism-praise-political": "Nein"}).to_parquet(tmp_path / "never.parquet")
    assert "always no" in err(train_offtopic(invoke, tmp_path / "never.parquet"))
    df.assign(review="  ").to_parquet(tmp_path / "empty.parquet")
    assert "no rows with a text" in err(train_offtopic(invoke, tmp_path / "empty.parquet"))
    (tmp_path / "notes.txt").write_text("hello")
    assert "unknown file type" in err(train_offtopic(invoke, tmp_path / "notes.txt"))


def test_parse_features_and_labels():
    assert parse_features("TFIDF, e5") == ["tfidf", "e5"]
    assert parse_labels("about_game,rage=angry-column") == {
        "about_game": "is-rating-game-related", "rage": "angry-column"}
