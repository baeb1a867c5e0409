"""Impossible option values are refused with one line before anything is loaded or written
(issue 12, item 8): train, score, disagreements. Job files: tests/test_job_safety.py."""

from __future__ import annotations

import pytest

from tests.helpers import err, ok


@pytest.fixture
def ingested(invoke, learnable_source):
    ok(invoke("ingest", "--source", str(learnable_source(40, 20))))


@pytest.mark.parametrize("args,fragment", [
    (["train", "tfidf-lr", "--limit", "0"], "--limit"),
    (["train", "bow-rf", "--limit", "-3"], "--limit"),
    (["train", "tfidf-lr", "--seed", "-1"], "--seed"),
    (["train", "bow-rf", "--seed", str(2**32)], "--seed"),
    (["train", "finetuned", "--epochs", "0"], "--epochs"),
    (["train", "finetuned", "--batch-size", "0"], "--batch-size"),
    (["train", "finetuned", "--lr", "0"], "--lr"),
    (["train", "finetuned", "--lr", "nan"], "--lr"),
    (["train", "finetuned", "--checkpoint-minutes", "-1"], "--checkpoint-minutes"),
    (["train", "finetuned", "--checkpoint-minutes", "inf"], "--checkpoint-minutes"),
    (["train", "finetuned", "--seed", "-1"], "--seed"),
    (["train", "finetuned", "--limit", "0"], "--limit"),
    (["train", "finetuned", "--threads", "0"], "--threads"),
    (["train", "finetuned", "--max-length", "4"], "--max-length"),
    (["score", "--model", "tfidf-lr", "--batch-tokens", "0"], "--batch-tokens"),
    (["score", "--model", "tfidf-lr", "--limit", "0"], "--limit"),
    (["score", "--model", "tfidf-lr", "--threads", "-1"], "--threads"),
])
def test_impossible_values_are_refused(invoke, ingested, args, fragment, db_path):
    line = err(invoke(*args))
    assert fragment in line
    from tests.helpers import q

    assert q(db_path, "SELECT count(*) FROM model_versions") == [(0,)]


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_disagreements_limit_must_be_positive(invoke, ingested, limit):
    ok(invoke("train", "tfidf-lr"))
    ok(invoke("train", "bow-rf"))
    assert "--limit" in err(invoke("disagreements", "tfidf-lr", "bow-rf", "--limit", limit))
