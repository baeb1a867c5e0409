"""Scorers by model kind (asaas.scoring.scorers.register_scorer), and each review's language
handed to the scorer by the local engine, on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from asaas.errors import AsaasError, ConfigError
from asaas.models import registry
from asaas.scoring import ScoreOptions, Scored, register_scorer, score, scorers
from asaas.store import open_store
from tests.helpers import ok as _ok
from tests.helpers import q as _q


class LanguageEcho:
    """Scores by language alone: 0.8 for english, 0.3 for anything else, and labels at a
    threshold of its own (0.25 for french), as a multilingual model does."""

    device = "cpu"
    seen: list[tuple[str, str | None]] = []

    def __init__(self, mv, options, recipe) -> None:
        self.home = options.home

    def prepare(self, texts: Sequence[str], languages: Sequence[str | None] | None = None):
        assert languages is not None and len(languages) == len(texts)
        LanguageEcho.seen += list(zip(texts, languages))
        return list(languages)

    def run(self, languages) -> Scored:
        p = np.array([0.8 if lang == "english" else 0.3 for lang in languages])
        thresholds = np.array([0.25 if lang == "french" else 0.5 for lang in languages])
        n = len(languages)
        return Scored(p, [None] * n, [None] * n, labels=(p >= thresholds).astype(np.int16))


@pytest.fixture
def echo_kind(monkeypatch):
    monkeypatch.setattr(registry, "KINDS", (*registry.KINDS, "echo"))
    monkeypatch.setitem(scorers.SCORERS, "echo", scorers.ScorerKind(LanguageEcho))
    LanguageEcho.seen = []
    yield "echo"


def _languages_source(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "test.parquet"
    pq.write_table(pa.table({
        "id": ["e1", "f1", "d1", "n1"], "text": ["good", "bon", "gut", "fine"],
        "label": [1, 1, 0, 1], "lang": ["english", "french", "german", None]}), path)
    return path


def test_the_engine_hands_each_reviews_language_to_the_scorer(invoke, db_url, tmp_path,
                                                              echo_kind):
    _ok(invoke("ingest", "--source", str(_languages_source(tmp_path)), "--language-column",
               "lang"))
    store = open_store(db_url)
    mv = registry.register(store, "echo-model", kind="echo", artifact_uri="hub/echo",
                           params={"multilingual": True}, artifact_sha256={})
    report = score(store, mv, ScoreOptions(progress=False))
    assert report.scored == 4  # a multilingual version scores every language by default
    assert sorted(LanguageEcho.seen, key=str) == sorted(
        [("good", "english"), ("bon", "french"), ("gut", "german"), ("fine", None)], key=str)
    rows = dict((r[0], (r[1], r[2])) for r in _q(db_url, """
        SELECT r.external_id, p.prob_positive, p.label FROM predictions p
        JOIN reviews r ON r.id = p.review_id"""))
    # prob stays the model's probability; the label is the scorer's own decision.
    assert rows == {"e1": (0.8, 1), "f1": (0.3, 1), "d1": (0.3, 0), "n1": (0.3, 0)}


def test_scorer_gets_the_home_for_its_caches(invoke, db_path, tmp_path, echo_kind, monkeypatch):
    _ok(invoke("ingest", "--source", str(_languages_source(tmp_path)), "--language-column",
               "lang"))
    store = open_store(str(db_path))
    mv = registry.register(store, "echo-model", kind="echo", artifact_uri="hub/echo",
                           params={"multilingual": True}, artifact_sha256={})
    seen = {}
    monkeypatch.setattr(LanguageEcho, "run", lambda self, langs: (
        seen.setdefault("home", self.home),
        Scored(np.full(len(langs), 0.9), [None] * len(langs), [None] * len(langs)))[1])
    score(store, mv, ScoreOptions(progress=False))
    assert seen["home"] == str(tmp_path / "home")  # ASAAS_HOME of the test


def test_kinds_are_looked_up_in_the_registry(monkeypatch, db_path):
    store = open_store(str(db_path))
    monkeypatch.setattr(registry, "KINDS", (*registry.KINDS, "nobody"))
    mv = registry.register(store, "m", kind="nobody", artifact_uri="hub/echo", artifact_sha256={})
    mv = registry.check_signature(store, mv)  # a signed row: what is refused is its kind
    with pytest.raises(AsaasError, match="unknown kind 'nobody'.*upgrade asaas"):
        scorers.load_scorer(mv, ScoreOptions())
    # A CPU-only kind refuses --device cuda before anything is loaded.
    register_scorer("nobody", LanguageEcho)
    try:
        with pytest.raises(ConfigError, match="runs on CPU; drop --device"):
            scorers.check_device(mv, "cuda")
    finally:
        scorers.SCORERS.pop("nobody")


def test_builtin_kinds_ignore_languages(learnable_source, invoke, db_path):
    """A scikit-learn version still scores its training languages (english by default) and
    labels at 0.5."""
    _ok(invoke("ingest", "--source", str(learnable_source())))
    _ok(invoke("train", "tfidf-lr"))
    _ok(invoke("score", "--model", "tfidf-lr", "--quiet"))
    bad = _q(db_path, "SELECT count(*) FROM predictions WHERE label <> "
                      "CASE WHEN prob_positive >= 0.5 THEN 1 ELSE 0 END")
    assert bad == [(0,)]
