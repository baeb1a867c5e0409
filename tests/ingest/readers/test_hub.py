"""Hugging Face Hub datasets (asaas/ingest/readers/hub.py): streamed split by split, and an
unreachable Hub named in one line with the way round it (--source)."""

from __future__ import annotations

from tests.helpers import err, ok, q


def test_hub_unreachable_names_source(invoke, monkeypatch):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    out = err(invoke("ingest"))
    assert "Hugging Face Hub" in out and "--source" in out


def test_hub_dataset_is_streamed(invoke, db_path, monkeypatch):
    import datasets

    dsd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"text": ["good", "bad"], "label": [1, 0]}),
        "unsupervised": datasets.Dataset.from_dict({"text": ["meh"], "label": [-1]}),
    })
    monkeypatch.setattr(datasets, "load_dataset", lambda name: dsd)
    out = ok(invoke("ingest", "--source", "hf:someone/reviews"))
    assert "read 3 rows, inserted 3 (train 2, unsup 1)" in out
    assert q(db_path, "SELECT split, label, external_id LIKE split || ':%' FROM reviews "
                      "ORDER BY 1, 2") == [("train", 0, True), ("train", 1, True),
                                          ("unsup", None, True)]
    assert "unknown split 'test'" in err(invoke("ingest", "--source", "hf:someone/reviews",
                                                "--split", "test"))
