"""The model registry (asaas/models/registry.py): `models list` and `models register`, one
scoring recipe per version (another recipe is a variant), unknown names and versions, folders
that are not models, and the pretrained model offline, each a one-line error with its fix."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers import err as _err
from tests.helpers import ok as _ok
from tests.helpers import q as _q
from tests.tiny_models import build_tiny_classifier


def test_label_0_label_1_needs_positive_label(invoke, tmp_path, db_url):
    model_dir = build_tiny_classifier(tmp_path / "generic", id2label={0: "LABEL_0",
                                                                       1: "LABEL_1"})
    out = _err(invoke("models", "register", "generic", "--hf", str(model_dir)))
    assert "--positive-label" in out and "0=LABEL_0, 1=LABEL_1" in out
    out = _ok(invoke("models", "register", "generic", "--hf", str(model_dir),
                     "--positive-label", "LABEL_1"))
    assert "positive = LABEL_1" in out
    params = json.loads(_q(db_url, "SELECT params FROM model_versions")[0][0])
    assert params["positive_index"] == 1


def test_models_list(invoke, tiny_bert):
    _ok(invoke("db", "upgrade"))  # read commands never create a database
    assert "no models yet" in _ok(invoke("models", "list"))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    out = _ok(invoke("models", "list"))
    assert "tiny   1" in out and "tiny   2" in out


def test_unknown_model_lists_known_ones(invoke, review_file, tiny_bert):
    _ok(invoke("ingest", "--source", str(review_file(10))))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    out = _err(invoke("score", "--model", "finetuned"))
    assert "no model named 'finetuned'" in out and "models: tiny" in out
    out = _err(invoke("score", "--model", "tiny", "--version", "7"))
    assert "no version 7" in out and "versions: 1" in out


@pytest.mark.parametrize("path,fragment", [
    ("/no/such/model", "does not exist"),
    ("{tmp}", "not a Hugging Face model directory"),
])
def test_bad_model_paths(invoke, tmp_path, path, fragment):
    out = _err(invoke("models", "register", "x", "--hf", path.format(tmp=tmp_path)))
    assert fragment in out


def test_model_without_tokenizer(invoke, tmp_path, tiny_bert, review_file):
    broken = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_bert, broken)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                 "special_tokens_map.json"):
        (broken / name).unlink(missing_ok=True)
    _ok(invoke("ingest", "--source", str(review_file(5))))
    _ok(invoke("models", "register", "broken", "--hf", str(broken)))
    out = _err(invoke("score", "--model", "broken"))
    assert "tokenizer" in out


def test_pretrained_offline_says_how_to_use_a_local_copy(invoke, review_file, monkeypatch):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    _ok(invoke("ingest", "--source", str(review_file(5))))
    out = _err(invoke("score", "--model", "pretrained"))
    assert "Hugging Face Hub" in out and "asaas models register pretrained --hf DIR" in out


def test_one_recipe_per_version_and_variants(invoke, db_url, review_file, tiny_bert):
    """A version is scored the way it was registered; another recipe is refused (nothing is
    written) and lives in a variant, a separate version the views keep apart."""
    _ok(invoke("ingest", "--source", str(review_file(30))))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert), "--max-length", "64",
               "--truncation", "head+tail"))
    out = _err(invoke("score", "--model", "tiny", "--max-length", "128"))
    assert "tiny v1 is scored with 64 head+tail" in out and "would mix two recipes" in out
    assert "asaas models register tiny-128 --from tiny:1 --max-length 128" in out
    assert "--quantize int8" in _err(invoke("score", "--model", "tiny", "--quantize", "int8"))
    assert _q(db_url, "SELECT count(*) FROM scoring_runs") == [(0,)]
    _ok(invoke("score", "--model", "tiny", "--truncation", "head+tail", "--quiet"))  # same: fine
    out = _ok(invoke("models", "register", "tiny-128", "--from", "tiny:1", "--max-length", "128"))
    assert "scored with 128 head+tail (was 64 head+tail)" in out
    _ok(invoke("score", "--model", "tiny-128", "--quiet"))
    rows = _q(db_url, "SELECT n.model, n.scoring, count(*) FROM predictions p JOIN "
                      "model_version_names n ON n.model_version_id = p.model_version_id "
                      "GROUP BY 1, 2 ORDER BY 1")
    assert rows == [("tiny", "64 head+tail", 30), ("tiny-128", "128 head+tail", 30)]
    listing = _ok(invoke("models", "list"))
    assert "64 head+tail" in listing and "128 head+tail" in listing
    assert "give exactly one of" in _err(invoke("models", "register", "x"))
    assert "no version 3" in _err(invoke("models", "register", "x", "--from", "tiny:3"))


def test_scikit_learn_versions_have_no_recipe_to_change(invoke, learnable_source):
    _ok(invoke("ingest", "--source", str(learnable_source(60, 20))))
    _ok(invoke("train", "tfidf-lr"))
    assert "reads whole reviews; drop --max-length" in _err(
        invoke("score", "--model", "tfidf-lr", "--max-length", "64"))
    assert "which has no scoring recipe" in _err(
        invoke("models", "register", "v", "--from", "tfidf-lr", "--max-length", "64"))
