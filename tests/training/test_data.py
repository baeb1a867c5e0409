"""Training data (asaas/training/data.py): without labelled train reviews, or with one class only,
every kind of training stops with a one-line error that says what to do."""

from __future__ import annotations

from tests.helpers import err
from tests.helpers import ok as _ok


def test_no_training_rows(invoke, tiny_bert):
    out = err(invoke("train", "bow-rf"), after_log_lines=True)
    assert "no labelled train reviews in dataset 'imdb'" in out and "asaas ingest" in out
    out = err(invoke("train", "finetuned", "--base", str(tiny_bert)), after_log_lines=True)
    assert "no labelled train reviews" in out


def test_single_class(invoke, learnable_source, tiny_bert):
    _ok(invoke("ingest", "--source", str(learnable_source(single_class=True))))
    assert "needs both positive and negative" in err(invoke("train", "tfidf-lr"),
                                                      after_log_lines=True)
    assert "needs both positive and negative" in err(
        invoke("train", "finetuned", "--base", str(tiny_bert)), after_log_lines=True)
