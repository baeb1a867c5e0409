"""The scikit-learn baselines (asaas/training/baselines.py): bow-rf and tfidf-lr train on ingested
reviews, register a version that records its seed, rows and environment, and score well; their
text cleaning matches the notebook; reviews with no usable word are a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers import accuracy, err
from tests.helpers import ok as _ok
from tests.helpers import q as _q


@pytest.mark.parametrize("kind", ["bow-rf", "tfidf-lr"])
def test_baselines_train_register_and_score(kind, invoke, db_path, learnable_source, tmp_path):
    _ok(invoke("ingest", "--source", str(learnable_source())))
    out = _ok(invoke("train", kind))
    assert f"trained {kind} v1 on 200 imdb reviews" in out
    _ok(invoke("train", kind, "--limit", "150"))
    versions = _q(db_path, "SELECT v.version, v.kind, v.train_dataset, v.train_fingerprint, "
                           "v.params, v.environment FROM model_versions v ORDER BY v.version")
    assert [v[:3] for v in versions] == [(1, "sklearn", "imdb"), (2, "sklearn", "imdb")]
    assert versions[0][3] != versions[1][3]  # different training rows, different fingerprint
    assert json.loads(versions[0][4])["seed"] == 42
    assert "sklearn" in json.loads(versions[0][5])
    _ok(invoke("score", "--model", kind, "--version", "1", "--quiet"))
    assert accuracy(db_path, kind) >= 0.9
    artifact = Path(_q(db_path, "SELECT artifact_uri FROM model_versions LIMIT 1")[0][0])
    assert (artifact / "pipeline.joblib").is_file() and artifact.parent.parent.parent == \
        tmp_path / "home"


def test_bow_rf_cleaning_matches_the_notebook():
    from asaas.training.baselines import clean_text

    assert clean_text("A <br /><br />GREAT film, isn't it?! 10/10") == "great film isn t"


def test_reviews_with_no_usable_word(invoke, tmp_path, db_path):
    """Every word in all reviews or in one only: tfidf-lr has nothing to learn from, which is
    said in one line (not scikit-learn's traceback) and registers nothing."""
    rows = [{"id": f"r{i}", "text": f"review number {i}", "label": i % 2, "split": "train"}
            for i in range(50)]
    path = tmp_path / "few.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    _ok(invoke("ingest", "--source", str(path)))
    out = err(invoke("train", "tfidf-lr"), after_log_lines=True)
    assert "no word of the 50 training reviews is usable" in out and "more" in out
    assert _q(str(db_path), "SELECT count(*) FROM model_versions") == [(0,)]
