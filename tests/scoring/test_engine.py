"""The local scoring engine (asaas/scoring/engine.py) and `asaas score`: the same probabilities as
one review at a time, incremental, resumable after an interrupt or a SIGKILL with no duplicate
and no gap, a failing review recorded while the run goes on, bounded DuckDB memory; and several
processes on one PostgreSQL server split the work (row claims with SKIP LOCKED)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import numpy as np
import pytest
import sqlalchemy as sa
import torch

from asaas.models.registry import Recipe, register_hf
from asaas.scoring import HFScorer, ScoreOptions, score
from asaas.store import open_store
from tests.helpers import ok as _ok
from tests.helpers import q as _q
from tests.helpers import select_pending
from tests.tiny_models import build_tiny_classifier


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


# -- several scorers on one PostgreSQL server ---------------------------------------------------


SLOW_SCORER = """
import sys, time
from asaas.models.registry import get_version
from asaas.scoring import HFScorer, ScoreOptions, score
from asaas.store import open_store
real = HFScorer.run
ran = [0]
def slow(self, enc):
    time.sleep(0.4)
    ran[0] += len(enc.input_ids)
    return real(self, enc)
HFScorer.run = slow
store = open_store(sys.argv[1])
report = score(store, get_version(store, "tiny"), ScoreOptions(chunk_size=10, progress=False))
print(ran[0], report.scored)
"""


def _count(url: str, sql: str) -> tuple:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(sa.text(sql)).one())
    finally:
        engine.dispose()


def test_concurrent_scorers_split_the_work_and_survive_a_kill(pg_server, invoke, tmp_path,
                                                               review_file, tiny_bert):
    url = pg_server()
    _ok(invoke("ingest", "--db", url, "--source", str(review_file(400))))
    _ok(invoke("models", "register", "tiny", "--db", url, "--hf", str(tiny_bert),
               "--max-length", "64"))
    script = tmp_path / "slow_score.py"
    script.write_text(textwrap.dedent(SLOW_SCORER))
    procs = [subprocess.Popen([sys.executable, str(script), url], env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    # Kill one only once all three have committed work: on a busy machine a process that starts
    # late could otherwise find nothing left, and the split would not be tested.
    deadline = time.time() + 240
    while time.time() < deadline and _count(
            url, "SELECT count(*) FROM scoring_runs WHERE n_scored > 0")[0] < 3:
        time.sleep(0.1)
    victim = procs[0]
    victim.send_signal(signal.SIGKILL)  # mid-chunk: it holds claimed rows it never writes
    victim.wait()
    outputs = [p.communicate(timeout=300) for p in procs[1:]]
    assert all(p.returncode == 0 for p in procs[1:]), outputs
    n, distinct = _count(url, "SELECT count(*), count(DISTINCT review_id) FROM predictions")
    assert n == distinct == 400  # no duplicate, and the victim's claimed rows were picked up
    assert _count(url, "SELECT count(*) FROM reviews r WHERE NOT EXISTS "
                       "(SELECT 1 FROM predictions p WHERE p.review_id = r.id)") == (0,)
    # Every process did part of the work, and the runs' own counts add up to the rows stored.
    per_run = _count(url, "SELECT count(*), sum(n_scored), min(n_scored) FROM scoring_runs")
    assert per_run[0] == 3 and per_run[1] == 400 and per_run[2] > 0
    ran_and_stored = [tuple(map(int, out.split())) for out, _ in outputs]
    # A live process never scores a review another live process is scoring: what each ran is
    # what it stored (without claims each would run all 400 and store a third).
    assert all(ran == stored > 0 for ran, stored in ran_and_stored), ran_and_stored
    assert sum(stored for _, stored in ran_and_stored) < 400  # the victim stored some too
