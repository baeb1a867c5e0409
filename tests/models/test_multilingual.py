"""Models for every language: tfidf-multi and e5-stack trained, registered, scored through the
normal engine with a threshold per language, and the bad inputs (unknown language, nothing the
model knows, a language too small for its own threshold, files changed after training)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from asaas.models import embeddings
from asaas.models.multilingual import LanguageThresholds, best_threshold, iso_code
from asaas.models.registry import get_version
from asaas.store import open_store
from tests.helpers import err as _err
from tests.helpers import ok as _ok
from tests.helpers import q as _q

WORDS = {
    "english": ("good great fun loved best", "bad awful boring broken worst",
                "the game story level play i it this"),
    "french": ("bon génial super adoré excellent", "mauvais nul ennuyeux cassé pire",
               "le jeu histoire niveau je il ce"),
    "koreana": ("좋아요 최고 재밌다 추천 명작", "별로 노잼 최악 환불 지루",
                "게임 스토리 레벨 이거 진짜 그냥"),
    "polish": ("dobra super świetna polecam", "słaba nudna zepsuta najgorsza",
               "gra fabuła poziom to jest"),
}


def _rows(n: int, seed: int, split: str, neg_share: dict[str, float]) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for lang, (pos, neg, filler) in WORDS.items():
        count = n if lang != "polish" else n // 10  # a small language
        for i in range(count):
            label = 0 if rng.random() < neg_share[lang] else 1
            cue = (neg if label == 0 else pos).split()
            words = [rng.choice(filler.split()) for _ in range(rng.randint(3, 12))]
            for _ in range(rng.randint(1, 2)):
                words.insert(rng.randrange(len(words) + 1), rng.choice(cue))
            if rng.random() < 0.15:  # label noise: a mixed review
                words.append(rng.choice((pos if label == 0 else neg).split()))
            rows.append({"id": f"{split}-{lang}-{i}", "text": " ".join(words), "label": label,
                         "lang": lang, "split": split, "app": "g1",
                         "at": f"2020-0{1 + i % 3}-1{i % 9}T12:00:00"})
    return rows


@pytest.fixture
def multilingual_source(tmp_path: Path) -> Path:
    """Train and test reviews in four languages; negatives are rare in French (as in Steam's
    smaller languages), and Polish has too few for a threshold of its own."""
    shares = {"english": 0.4, "french": 0.12, "koreana": 0.3, "polish": 0.3}
    rows = _rows(240, 1, "train", shares) + _rows(120, 2, "test", shares)
    bad = [  # bad input, all in the test split
        {"id": "emoji", "text": "♚♚♚", "label": 1, "lang": "english"},
        {"id": "unknown-lang", "text": "good great fun", "label": 1, "lang": None},
        {"id": "iso-code", "text": "bon jeu génial", "label": 1, "lang": "fr"},
        {"id": "mixed", "text": "좋아요 but the game is broken", "label": 0, "lang": "koreana"},
    ]
    rows += [{**r, "split": "test", "app": "g1", "at": "2020-02-01T00:00:00"} for r in bad]
    path = tmp_path / "reviews.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _ingest(invoke, source: Path) -> None:
    _ok(invoke("ingest", "--source", str(source), "--language-column", "lang",
               "--dataset", "multi", "--product-column", "app", "--time-column", "at"))


def test_tfidf_multi_scores_every_language_at_its_own_threshold(invoke, db_url,
                                                                multilingual_source):
    _ingest(invoke, multilingual_source)
    out = _ok(invoke("train", "tfidf-multi", "--train-dataset", "multi", "--min-negatives", "8",
                     "--quiet"))
    assert "trained tfidf-multi v1 on 744 multi reviews in 4 languages" in out
    store = open_store(db_url)
    mv = get_version(store, "tfidf-multi")
    assert mv.kind == "tfidf-multi" and mv.params["multilingual"]
    assert set(mv.artifact_sha256) == {"pipeline.joblib", "thresholds.json", "oof.npz",
                                       "asaas.json"}
    thresholds = LanguageThresholds.from_json(json.loads(
        (Path(mv.artifact_uri) / "thresholds.json").read_text()))
    assert thresholds.languages["polish"].source == "pooled"
    assert "held-out negatives, under 8" in thresholds.languages["polish"].reason
    assert {thresholds.languages[x].source for x in ("english", "french", "koreana")} == {
        "language"}
    # Every language is scored by default, not only the training languages.
    out = _ok(invoke("score", "--model", "tfidf-multi", "--dataset", "multi", "--quiet"))
    rows = _q(db_url, """
        SELECT r.external_id, r.language, r.text, p.prob_positive, p.label FROM predictions p
        JOIN reviews r ON r.id = p.review_id""")
    assert len(rows) == 376 - 1  # every test review but the one with no known n-gram
    from asaas.models.sklearn_models import load_pipeline

    pipeline = load_pipeline(mv.artifact_uri)
    texts = [r[2] for r in rows]
    expected = pipeline.predict_proba(texts)[:, 1]
    probs = np.array([r[3] for r in rows])
    assert np.allclose(probs, expected, atol=1e-9)  # prob is the model's own probability
    for (ext, lang, _text, prob, label) in rows:
        assert label == int(prob >= thresholds.lookup(lang).threshold), ext
    by_id = {r[0]: r for r in rows}
    # No language recorded: the pooled threshold; an ISO code: that language's threshold.
    assert thresholds.lookup(None) is thresholds.pooled
    assert by_id["unknown-lang"][4] == int(by_id["unknown-lang"][3] >= thresholds.pooled.threshold)
    assert thresholds.lookup("fr") is thresholds.languages["french"]
    assert "mixed" in by_id  # mixed scripts: scored at its recorded language's threshold
    failed = _q(db_url, "SELECT r.external_id, f.error FROM prediction_failures f "
                        "JOIN reviews r ON r.id = f.review_id")
    assert failed == [("emoji", failed[0][1])] and "not scored" in failed[0][1]
    # The thresholds beat one threshold for all: balanced accuracy per language in SQL.
    report = json.loads(_ok(invoke("report", "--dataset", "multi", "--by", "language",
                                   "--format", "json")))
    by_lang = {r["language"]: r for r in report}
    assert {"english", "french", "koreana", "polish"} <= set(by_lang)
    assert by_lang["polish"]["threshold"] == round(thresholds.pooled.threshold, 4)
    assert "under 8: the pooled threshold" in by_lang["polish"]["note"]
    # The emoji review is a recorded failure, not a --limit sample.
    assert "1 not scoreable (prediction_failures)" in by_lang["english"]["note"]
    assert "sample" not in by_lang["english"]["note"]
    assert all(by_lang[x]["balanced_accuracy"] > 0.8 for x in ("english", "french", "koreana"))
    # Corrected shares per language: the error rates s, f of each language are measured at
    # its own threshold, and the timeline divides them out language by language.
    cal = {r[0]: r[1:] for r in _q(db_url, """
        SELECT c.language, c.neg_hit_rate, c.neg_false_alarm_rate FROM prevalence_calibration c
        JOIN model_versions v ON v.id = c.model_version_id WHERE v.kind = 'tfidf-multi'""")}
    truth = {r[0]: r[1:] for r in _q(db_url, """
        SELECT r.external_id, r.label FROM reviews r WHERE r.split = 'test'""")}
    for lang in ("english", "french", "koreana"):
        mine = [r for r in rows if r[1] == lang]
        y = np.array([truth[r[0]][0] for r in mine])
        pred = np.array([r[4] for r in mine])
        s_rate, f_rate = (pred[y == 0] == 0).mean(), (pred[y == 1] == 0).mean()
        assert cal[lang] == pytest.approx((s_rate, f_rate))
        line = _q(db_url, f"""
            SELECT predicted_negative_share, corrected_negative_share FROM timeline t
            JOIN model_versions v ON v.id = t.model_version_id
            WHERE v.kind = 'tfidf-multi' AND t.freq = 'month' AND t.language = '{lang}'
              AND t.period_start = DATE '2020-01-01'""")[0]
        assert line[1] == pytest.approx(min(1, max(0, (line[0] - f_rate) / (s_rate - f_rate))))
    # A second run has nothing to do: failures are not retried.
    assert "nothing to score" in _ok(invoke("score", "--model", "tfidf-multi", "--dataset",
                                            "multi", "--quiet"))


def test_thresholds_file_changed_after_training_is_refused(invoke, db_path,
                                                           multilingual_source):
    _ingest(invoke, multilingual_source)
    _ok(invoke("train", "tfidf-multi", "--train-dataset", "multi", "--quiet"))
    mv = get_version(open_store(str(db_path)), "tfidf-multi")
    path = Path(mv.artifact_uri) / "thresholds.json"
    data = json.loads(path.read_text())
    data["pooled"]["threshold"] = 0.0
    path.write_text(json.dumps(data))
    msg = _err(invoke("score", "--model", "tfidf-multi", "--dataset", "multi"))
    assert "thresholds.json was changed after registration" in msg


def test_bad_training_options_and_data(invoke, db_path, multilingual_source, tmp_path):
    assert "--folds must be at least 2" in _err(invoke("train", "tfidf-multi", "--folds", "1"))
    _ingest(invoke, multilingual_source)
    assert "no model named 'nothing'" in _err(invoke("train", "e5-stack", "--base", "nothing"))
    one_class = tmp_path / "one.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["good", "fine", "great"],
                             "label": [1, 1, 1], "split": ["train"] * 3}), one_class)
    _ok(invoke("ingest", "--source", str(one_class), "--dataset", "one"))
    assert "all label 1" in _err(invoke("train", "tfidf-multi", "--train-dataset", "one"))


def test_choose_thresholds_by_language():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(200, int), np.zeros(100, int), np.ones(50, int), np.zeros(5, int)]
    p = np.r_[rng.uniform(0.6, 1, 200), rng.uniform(0.3, 0.7, 100), rng.uniform(0.8, 1, 50),
              rng.uniform(0.7, 0.9, 5)]
    langs = ["en"] * 300 + ["xx"] * 55
    t = LanguageThresholds.choose(y, p, langs, min_negatives=10)
    assert t.languages["en"].source == "language" and t.languages["xx"].source == "pooled"
    # The chosen threshold is the best of every cut point (balanced accuracy, brute force).
    ye, pe = y[:300], p[:300]
    brute = max(((pe >= c)[ye == 1].mean() + (pe < c)[ye == 0].mean()) / 2 for c in pe)
    assert t.languages["en"].balanced_accuracy == pytest.approx(brute)
    chosen = t.languages["en"].threshold
    assert ((pe >= chosen)[ye == 1].mean() + (pe < chosen)[ye == 0].mean()) / 2 == \
        pytest.approx(brute)
    labels = t.labels(p, langs)
    assert ((p[:300] >= t.languages["en"].threshold) == labels[:300]).all()
    assert t.lookup("XX").threshold == t.pooled.threshold
    again = LanguageThresholds.from_json(json.loads(json.dumps(t.to_json())))
    assert again.to_json() == t.to_json()
    assert best_threshold(np.array([0, 1]), np.array([0.2, 0.9]))[1] == 1.0
    assert iso_code("koreana") == "ko" and iso_code("zh-hans") == "zh" and iso_code(None) is None
    with pytest.raises(Exception, match="both classes"):
        LanguageThresholds.choose([1, 1], [0.2, 0.3], ["en", "en"])


class FakeE5(embeddings.Embedder):
    """Stands in for e5 (too slow for tests): a hashed bag of words, so similar reviews get
    similar vectors, and a count of texts embedded."""

    name = "e5"
    dim = 32
    calls: list[str] = []

    def __init__(self, max_tokens: int | None = None, version: int = 1) -> None:
        self.max_tokens = max_tokens or 128
        self.version = version

    @property
    def identity(self):
        return {"embedder": "e5", "fake": self.version, "max_tokens": self.max_tokens}

    def _embed(self, texts):
        FakeE5.calls += texts
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                out[i, int.from_bytes(embeddings.text_keys([w])[0][:2], "little") % self.dim] += 1
        return out + 1e-3


def test_e5_stack_with_a_stand_in_embedder(invoke, db_path, multilingual_source, monkeypatch):
    version = {"v": 1}
    monkeypatch.setattr(embeddings, "get_embedder",
                        lambda name, max_tokens=None, threads=None, **kw: FakeE5(
                            max_tokens, version["v"]))
    FakeE5.calls = []
    _ingest(invoke, multilingual_source)
    _ok(invoke("train", "tfidf-multi", "--train-dataset", "multi", "--min-negatives", "8",
               "--quiet"))
    out = _ok(invoke("train", "e5-stack", "--negatives-per-language", "40",
                     "--positives-per-language", "60", "--small-language-positives", "10",
                     "--min-negatives", "8", "--quiet"))
    assert "trained e5-stack v1" in out
    mv = get_version(open_store(str(db_path)), "e5-stack")
    assert mv.metrics["train_rows"] == len(set(FakeE5.calls)) < 744
    assert {"stack.npz", "embedder.json", "pipeline.joblib"} <= set(mv.artifact_sha256)
    embedded_for_training = len(FakeE5.calls)
    _ok(invoke("score", "--model", "e5-stack", "--dataset", "multi", "--quiet"))
    n_scored = _q(db_path, "SELECT count(*) FROM predictions p JOIN model_versions v ON "
                           "v.id = p.model_version_id WHERE v.kind = 'e5-stack'")[0][0]
    assert n_scored == 375
    # Test reviews were embedded once each and are in the cache now.
    assert len(FakeE5.calls) - embedded_for_training <= 376
    report = json.loads(_ok(invoke("report", "--dataset", "multi", "--by", "language",
                                   "--model", "e5-stack", "--format", "json")))
    assert all(r["balanced_accuracy"] > 0.75 for r in report if r["language"] == "english")
    # Another embedder than the one it was trained on is refused, not used.
    version["v"] = 2
    _ok(invoke("ingest", "--source", str(multilingual_source), "--language-column", "lang",
               "--dataset", "multi2"))
    msg = _err(invoke("score", "--model", "e5-stack", "--dataset", "multi2"))
    assert "trained on e5 embeddings with fake=1" in msg and "retrain" in msg


def test_e5_stack_needs_a_tfidf_multi_base(invoke, db_path, learnable_source):
    _ok(invoke("ingest", "--source", str(learnable_source())))
    _ok(invoke("train", "tfidf-lr"))
    msg = _err(invoke("train", "e5-stack", "--base", "tfidf-lr"))
    assert "needs a tfidf-multi version" in msg


def test_bad_input_for_every_language(invoke, db_url, multilingual_source, tmp_path):
    """Reviews a multilingual model can only partly read: a language it never saw (or the
    "unknown" that `ingest --detect-language` writes) gets the pooled threshold and says so in
    the report; text empty after the model's cleaning (zero-width spaces, emoji only) is a
    recorded failure with its reason, never a prior passed off as a prediction; mixed scripts
    are scored at the recorded language's threshold."""
    _ingest(invoke, multilingual_source)
    _ok(invoke("train", "tfidf-multi", "--train-dataset", "multi", "--min-negatives", "8",
               "--quiet"))
    odd = [
        ("klingon", "good great fun loved", 1, "klingon"),  # a language the model never saw
        ("klingon-neg", "bad awful boring worst", 0, "klingon"),
        ("undetected", "awful boring broken", 0, "unknown"),  # what --detect-language writes
        ("zero-width", "\u200b\u200b\u200b", 1, "english"),  # empty after cleaning
        ("emoji", "👍👍👍", 1, "english"),
        ("emoji-flags", "🇫🇷🇫🇷 ✨", 1, "french"),
        ("mixed", "정말 좋아요 good great 最高", 1, "koreana"),  # three scripts
    ]
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.Table.from_pylist([
        {"id": i, "text": t, "label": y, "lang": la, "split": "test"} for i, t, y, la in odd]),
        path)
    _ok(invoke("ingest", "--source", str(path), "--language-column", "lang", "--dataset", "odd"))
    out = _ok(invoke("score", "--model", "tfidf-multi", "--dataset", "odd", "--quiet"))
    assert "Traceback" not in out
    mv = get_version(open_store(db_url), "tfidf-multi")
    thresholds = LanguageThresholds.from_json(json.loads(
        (Path(mv.artifact_uri) / "thresholds.json").read_text()))
    scored = {r[0]: r[1:] for r in _q(db_url, """
        SELECT r.external_id, p.prob_positive, p.label FROM predictions p
        JOIN reviews r ON r.id = p.review_id WHERE r.dataset = 'odd'""")}
    failed = dict(_q(db_url, """
        SELECT r.external_id, f.error FROM prediction_failures f
        JOIN reviews r ON r.id = f.review_id WHERE r.dataset = 'odd'"""))
    assert set(failed) == {"zero-width", "emoji", "emoji-flags"}
    assert all("not scored" in e and "vocabulary" in e for e in failed.values())
    assert set(scored) == {"klingon", "klingon-neg", "undetected", "mixed"}
    pooled = thresholds.pooled.threshold
    for ext in ("klingon", "klingon-neg", "undetected"):
        prob, label = scored[ext]
        assert label == int(prob >= pooled), ext
    assert scored["klingon"][1] == 1 and scored["klingon-neg"][1] == 0  # still read, pooled
    prob, label = scored["mixed"]
    assert label == int(prob >= thresholds.languages["koreana"].threshold)
    report = json.loads(_ok(invoke("report", "--dataset", "odd", "--by", "language",
                                   "--format", "json")))
    by_lang = {r["language"]: r for r in report}
    assert by_lang["klingon"]["threshold"] == round(pooled, 4)
    assert "pooled threshold" in by_lang["klingon"]["note"]
    assert by_lang["unknown"]["n"] == 1 and "pooled threshold" in by_lang["unknown"]["note"]
