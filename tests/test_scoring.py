"""`asaas score`: equal to one-at-a-time scoring, order restored, resumable, failures isolated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import numpy as np
import pytest
import torch

from asaas.models.registry import Recipe, register_hf
from asaas.scoring import HFScorer, ScoreOptions, score
from asaas.store import open_store
from tests.tiny_models import build_tiny_classifier
from tests.helpers import err as _err
from tests.helpers import ok as _ok
from tests.helpers import q as _q
from tests.helpers import select_pending


def _reference_probs(model_dir, texts, max_length):
    """One review at a time, no padding: the straightforward way."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    out = []
    with torch.inference_mode():
        for text in texts:
            enc = tok(text, truncation=True, max_length=max_length, return_tensors="pt")
            out.append(model(**enc).logits.softmax(-1)[0, 1].item())
    return np.array(out)


@pytest.fixture
def scored_store(db_url, review_file, invoke):
    """60 reviews ingested, on each engine (DuckDB, PostgreSQL)."""
    _ok(invoke("ingest", "--source", str(review_file(60))))
    return open_store(db_url)


@pytest.mark.parametrize("arch", ["bert", "distilbert"])
def test_batched_sorted_equals_one_at_a_time(arch, request, scored_store, db_url):
    model_dir = request.getfixturevalue(f"tiny_{arch}")
    mv = register_hf(scored_store, arch, str(model_dir), recipe=Recipe(64, "head"))
    report = score(scored_store, mv, ScoreOptions(batch_tokens=256, chunk_size=25,
                                                  progress=False))
    assert report.scored == 60 and report.failed == 0 and report.truncated > 0
    rows = _q(db_url, "SELECT r.text, p.prob_positive, p.label, p.n_tokens, p.truncated "
                       "FROM predictions p JOIN reviews r ON r.id = p.review_id ORDER BY r.id")
    texts = [r[0] for r in rows]
    expected = _reference_probs(model_dir, texts, 64)
    got = np.array([r[1] for r in rows])
    assert np.max(np.abs(got - expected)) < 1e-4
    assert [r[2] for r in rows] == [int(p >= 0.5) for p in got]
    assert all((r[3] > 64) == r[4] for r in rows)  # truncated flag matches the token count


def test_order_is_restored_within_a_batch(scored_store, tiny_bert):
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    _, ids, texts = select_pending(scored_store, mv, ScoreOptions())
    scorer = HFScorer(mv, ScoreOptions(batch_tokens=100_000), Recipe(64, "head"))
    together = scorer.run(scorer.prepare(texts)).prob_positive
    reversed_ = scorer.run(scorer.prepare(texts[::-1])).prob_positive[::-1]
    singles = np.array([scorer.run(scorer.prepare([t])).prob_positive[0] for t in texts])
    assert np.allclose(together, singles, atol=1e-5)
    assert np.allclose(reversed_, singles, atol=1e-5)


def test_head_tail_truncation_keeps_both_ends(scored_store, tiny_bert):
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    scorer = HFScorer(mv, ScoreOptions(), Recipe(34, "head+tail"))
    text = " ".join(["good"] * 10 + ["film"] * 50 + ["bad"] * 30)
    enc = scorer.prepare([text])
    ids = enc.input_ids[0]
    tok = scorer.tokenizer
    words = tok.convert_ids_to_tokens(ids)
    assert len(ids) == 34 and enc.truncated == [True] and enc.n_tokens == [92]
    assert words[0] == "[CLS]" and words[-1] == "[SEP]"
    assert words[1:9] == ["good"] * 8  # head: round(32 * 128 / 510) = 8 tokens
    assert words[9:33] == ["bad"] * 24  # tail: the last 24 tokens
    head_only = HFScorer(mv, ScoreOptions(), Recipe(34, "head")).prepare([text]).input_ids[0]
    assert tok.convert_ids_to_tokens(head_only)[1:33] == ["good"] * 10 + ["film"] * 22


def test_cli_score_is_incremental(invoke, db_url, review_file, tiny_bert):
    _ok(invoke("ingest", "--source", str(review_file(60))))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert), "--max-length", "64"))
    out = _ok(invoke("score", "--model", "tiny", "--limit", "20", "--max-length", "64"))
    assert "scored 20 reviews with tiny v1 (64 head)" in out
    out = _ok(invoke("score", "--model", "tiny", "--limit", "20"))
    assert "nothing to score" in out
    out = _ok(invoke("score", "--model", "tiny", "--quiet"))
    assert "scored 40 reviews" in out and "20 already done" in out
    assert _q(db_url, "SELECT count(*), count(DISTINCT review_id) FROM predictions") == [(60, 60)]
    runs = _q(db_url, "SELECT status, n_scored FROM scoring_runs ORDER BY id")
    assert runs == [("succeeded", 20), ("succeeded", 40)]


def test_limit_picks_the_same_sample_for_every_model(invoke, db_url, review_file, tiny_bert,
                                                      tiny_distilbert):
    _ok(invoke("ingest", "--source", str(review_file(60))))
    _ok(invoke("models", "register", "a", "--hf", str(tiny_bert)))
    _ok(invoke("models", "register", "b", "--hf", str(tiny_distilbert)))
    _ok(invoke("score", "--model", "a", "--limit", "15", "--quiet"))
    _ok(invoke("score", "--model", "b", "--limit", "15", "--quiet"))
    rows = _q(db_url, "SELECT model_version_id, review_id FROM predictions ORDER BY 1, 2")
    sets = [[r for m, r in rows if m == mv] for mv in sorted({m for m, _ in rows})]
    assert len(sets) == 2 and sets[0] == sets[1] and len(sets[0]) == 15
    labels = _q(db_url, "SELECT DISTINCT r.label FROM predictions p "
                         "JOIN reviews r ON r.id = p.review_id")
    assert len(labels) == 2  # a sample of both classes, not the first rows of one


def test_resume_after_interrupted_run(scored_store, tiny_bert, monkeypatch, db_url):
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    real_run = HFScorer.run
    calls = {"n": 0}

    def flaky(self, enc):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_run(self, enc)

    monkeypatch.setattr(HFScorer, "run", flaky)
    opts = ScoreOptions(chunk_size=10, commit_rows=10, progress=False)
    with pytest.raises(KeyboardInterrupt):
        score(scored_store, mv, opts)
    assert _q(db_url, "SELECT count(*) FROM predictions") == [(20,)]
    assert _q(db_url, "SELECT status FROM scoring_runs") == [("interrupted",)]
    monkeypatch.setattr(HFScorer, "run", real_run)
    report = score(scored_store, mv, opts)
    assert report.scored == 40 and report.already_done == 20
    assert _q(db_url, "SELECT count(*), count(DISTINCT review_id) FROM predictions") == [(60, 60)]


def test_sigkill_mid_run_then_rerun_has_no_duplicates_or_gaps(db_path, review_file, invoke,
                                                              tiny_bert, tmp_path):
    _ok(invoke("ingest", "--source", str(review_file(200))))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    script = tmp_path / "slow_score.py"
    script.write_text(textwrap.dedent(f"""
        import time
        from asaas.models.registry import get_version
        from asaas.scoring import HFScorer, ScoreOptions, score
        from asaas.store import open_store
        real = HFScorer.run
        def slow(self, enc):
            time.sleep(0.3)
            return real(self, enc)
        HFScorer.run = slow
        store = open_store({str(db_path)!r})
        score(store, get_version(store, "tiny"),
              ScoreOptions(chunk_size=10, commit_rows=10, progress=False))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], env={**os.environ})
    deadline = time.time() + 60
    seen = 0
    while time.time() < deadline and seen < 30:
        time.sleep(0.2)
        try:
            seen = _q(db_path, "SELECT count(*) FROM predictions")[0][0]
        except duckdb.IOException:
            continue  # the writer holds the file for a moment
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 30 <= seen < 200
    result = invoke("score", "--model", "tiny", "--quiet")
    assert result.exit_code == 0, result.output
    assert _q(db_path, "SELECT count(*), count(DISTINCT review_id) FROM predictions") == \
        [(200, 200)]
    assert _q(db_path, "SELECT count(*) FROM reviews r WHERE NOT EXISTS "
                       "(SELECT 1 FROM predictions p WHERE p.review_id = r.id)") == [(0,)]
    statuses = [r[0] for r in _q(db_path, "SELECT status FROM scoring_runs ORDER BY id")]
    assert statuses == ["interrupted", "succeeded"]


def test_a_failing_review_is_recorded_and_the_run_goes_on(scored_store, tiny_bert, monkeypatch,
                                                          db_url):
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    real_forward = HFScorer._forward
    _, ids, texts = select_pending(scored_store, mv, ScoreOptions())
    poison = texts[7]

    def forward(self, seqs):
        bad = self.prepare([poison]).input_ids[0]
        if any(s == bad for s in seqs):
            raise RuntimeError("cannot score this one")
        return real_forward(self, seqs)

    monkeypatch.setattr(HFScorer, "_forward", forward)
    report = score(scored_store, mv, ScoreOptions(progress=False))
    assert report.failed >= 1 and report.scored + report.failed == 60
    failures = _q(db_url, "SELECT r.text, f.error FROM prediction_failures f "
                           "JOIN reviews r ON r.id = f.review_id")
    assert poison in [f[0] for f in failures]
    assert all("cannot score this one" in f[1] for f in failures)
    again = score(scored_store, mv, ScoreOptions(progress=False))
    assert again.run_id is None  # failed reviews are not retried forever


def test_out_of_memory_halves_the_budget_and_loses_nothing(scored_store, tiny_bert,
                                                            monkeypatch):
    """A batch that runs out of memory is split and retried at half the token budget; every
    review still gets the probability it gets when scored alone, in the right place."""
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    _, ids, texts = select_pending(scored_store, mv, ScoreOptions())
    real_forward = HFScorer._forward
    widths: list[int] = []

    def forward(self, seqs):
        cells = len(seqs) * max(len(s) for s in seqs)
        if cells > 300:  # pretend the device holds only 300 tokens at once
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        widths.append(cells)
        return real_forward(self, seqs)

    scorer = HFScorer(mv, ScoreOptions(batch_tokens=4096), Recipe(64, "head"))
    monkeypatch.setattr(HFScorer, "_forward", forward)
    result = scorer.run(scorer.prepare(texts))
    monkeypatch.setattr(HFScorer, "_forward", real_forward)
    assert not result.errors and not np.isnan(result.prob_positive).any()
    assert scorer.batch_tokens < 4096 and max(widths) <= 300
    singles = np.array([scorer.run(scorer.prepare([t])).prob_positive[0] for t in texts])
    assert np.allclose(result.prob_positive, singles, atol=1e-5)


def test_reversed_label_ids_are_respected(scored_store, tmp_path, db_url):
    model_dir = build_tiny_classifier(tmp_path / "reversed", id2label={0: "POSITIVE",
                                                                        1: "NEGATIVE"})
    mv = register_hf(scored_store, "rev", str(model_dir), recipe=Recipe(64, "head"))
    score(scored_store, mv, ScoreOptions(limit=10, progress=False))
    rows = _q(db_url, "SELECT r.text, p.prob_positive FROM predictions p "
                       "JOIN reviews r ON r.id = p.review_id ORDER BY r.id")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        for text, prob in rows:
            enc = tok(text, truncation=True, max_length=64, return_tensors="pt")
            assert abs(model(**enc).logits.softmax(-1)[0, 0].item() - prob) < 1e-4


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


def test_int8_quantisation_scores_close_to_fp32(scored_store, tiny_bert):
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    _, _, texts = select_pending(scored_store, mv, ScoreOptions())
    fp32 = HFScorer(mv, ScoreOptions(), Recipe(64, "head"))
    int8 = HFScorer(mv, ScoreOptions(), Recipe(64, "head", "int8"))
    a = fp32.run(fp32.prepare(texts)).prob_positive
    b = int8.run(int8.prepare(texts)).prob_positive
    # Random weights quantise worse than trained ones; the real accuracy cost is in bench/.
    assert not np.allclose(a, b, atol=1e-7)  # it really ran a different (quantised) model
    assert np.mean(np.abs(a - b)) < 0.05
    assert np.mean((a >= 0.5) == (b >= 0.5)) >= 0.9


def test_models_list(invoke, tiny_bert):
    _ok(invoke("db", "upgrade"))  # read commands never create a database
    assert "no models yet" in _ok(invoke("models", "list"))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    out = _ok(invoke("models", "list"))
    assert "tiny   1" in out and "tiny   2" in out


# -- bad input ------------------------------------------------------------------------------------


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
    import shutil

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


def test_bad_selection(invoke, review_file, tiny_bert):
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    assert "run `asaas ingest` first" in _err(invoke("score", "--model", "tiny"))
    _ok(invoke("ingest", "--source", str(review_file(5))))
    assert "has no split unsup" in _err(invoke("score", "--model", "tiny", "--split", "unsup"))
    assert "--device cpu" in _err(invoke("score", "--model", "tiny", "--device", "cuda"))
    assert "--limit must be" in _err(invoke("score", "--model", "tiny", "--limit", "0"))
    assert "--batch-tokens" in _err(invoke("score", "--model", "tiny", "--batch-tokens", "16"))


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


def test_language_filter_defaults_to_the_versions_languages(invoke, db_url, tmp_path, tiny_bert):
    """An English model does not score Chinese reviews unless asked; reviews of unknown
    language are always scored."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "test.parquet"
    pq.write_table(pa.table({"id": ["e1", "e2", "z1", "n1"],
                             "text": ["good film", "bad film", "好电影", "fine"],
                             "label": [1, 0, 1, 1]}), path)
    _ok(invoke("ingest", "--source", str(path)))
    from tests.helpers import q

    import sqlalchemy as sa

    engine = sa.create_engine(db_url if "://" in db_url else f"duckdb:///{db_url}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE reviews SET language = CASE external_id WHEN 'z1' THEN "
                             "'schinese' WHEN 'n1' THEN NULL ELSE 'english' END"))
    engine.dispose()
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert), "--max-length", "64"))
    assert "scored 3 reviews" in _ok(invoke("score", "--model", "tiny", "--quiet"))
    scored = {r[0] for r in q(db_url, "SELECT r.external_id FROM predictions p "
                                      "JOIN reviews r ON r.id = p.review_id")}
    assert scored == {"e1", "e2", "n1"}
    assert "scored 1 reviews" in _ok(invoke("score", "--model", "tiny", "--language", "all",
                                            "--quiet"))


@pytest.mark.parametrize("limit", [None, 45])
def test_pages_walk_the_order_in_windows(invoke, db_url, review_file, tiny_bert, monkeypatch,
                                         limit):
    """Pending reviews come out in content-hash order, each once, whatever the window sizes:
    tiny windows here, so a run crosses many of them (some empty), skips (and widens past)
    windows whose reviews are all scored, and stops at the --limit bound."""
    from asaas.models.registry import get_version
    from asaas.scoring import selection as sel_mod

    _ok(invoke("ingest", "--source", str(review_file(60))))
    _ok(invoke("models", "register", "a", "--hf", str(tiny_bert)))
    _ok(invoke("score", "--model", "a", "--limit", "20", "--quiet"))  # the first 20 in order
    monkeypatch.setattr(sel_mod, "WINDOW_ROWS", 3)  # about 20 windows of hash values
    store = open_store(db_url)
    mv = get_version(store, "a")
    sel = sel_mod.selection_for(store, mv, ScoreOptions(limit=limit, progress=False))
    pages = list(sel_mod.iter_pages(store, sel, 4))
    got = [i for page in pages for i in page.ids]
    expected = [r[0] for r in _q(db_url, "SELECT id FROM reviews ORDER BY content_hash, id")]
    expected = expected[20:limit]
    assert got == expected and len(got) == (limit or 60) - 20
    assert all(len(page.ids) <= 4 for page in pages)
    texts = dict(_q(db_url, "SELECT id, text FROM reviews"))
    assert all(t == texts[i] for page in pages for i, t in zip(page.ids, page.texts))


@pytest.mark.parametrize("env,during", [(None, "244.1 MiB"), ("512MB", "488.2 MiB")])
def test_a_scoring_run_gets_the_streaming_memory_limit(invoke, db_path, review_file, tiny_bert,
                                                       monkeypatch, env, during):
    """A run reads the corpus once, so its DuckDB connections get the small streaming limit
    (settings.DEFAULT_DUCKDB_STREAM_MEMORY, 256MB) instead of the 1GB cache that made its peak
    memory grow with the corpus; ASAAS_DUCKDB_MEMORY, when set, wins everywhere."""
    from asaas.models.registry import get_version

    if env:
        monkeypatch.setenv("ASAAS_DUCKDB_MEMORY", env)
    _ok(invoke("ingest", "--source", str(review_file(30))))
    _ok(invoke("models", "register", "a", "--hf", str(tiny_bert)))
    store = open_store(str(db_path))

    def limit() -> str:
        with store.transaction() as conn:
            return conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar()

    seen: list[str] = []
    score(store, get_version(store, "a"), ScoreOptions(chunk_size=10, progress=False),
          on_chunk=lambda n: seen.append(limit()))
    assert seen and set(seen) == {during}
    assert limit() == ("488.2 MiB" if env else "953.6 MiB")  # other work keeps its cache


def test_an_in_memory_store_keeps_its_limit_through_a_run(monkeypatch):
    """An in-memory DuckDB store has one connection for good: capping it for a run would cap it
    for the rest of the process, so streaming() leaves it alone."""
    from asaas.store import Store

    monkeypatch.delenv("ASAAS_DUCKDB_MEMORY", raising=False)
    store = Store("duckdb:///:memory:")
    with store.streaming():
        with store.transaction() as conn:
            during = conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar()
    assert during == "953.6 MiB"
