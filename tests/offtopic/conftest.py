"""Fixtures of the off-topic tests: the annotated-incidents stand-in, and a fake sentence
embedder in place of the real ones (tests/offtopic_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.offtopic_data import fake_embedder, write_annotated


@pytest.fixture
def fake_embeddings(monkeypatch):
    calls: list = []
    monkeypatch.setattr("asaas.offtopic.embedding.embedder", fake_embedder(calls))
    return calls


@pytest.fixture
def annotated(tmp_path) -> Path:
    return write_annotated(tmp_path / "incidents.parquet")
