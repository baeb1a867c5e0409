"""The shipped nightly job fits a night on a laptop CPU (issue 21, item 4): every step that can
reach a transformer is bounded per run, the cheap baseline scores everything new, and the file
runs as shipped (pointed at a test database) with every step and both reports."""

from __future__ import annotations

from pathlib import Path

from asaas.jobs import load_job, run_job
from tests.helpers import ok

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "jobs" / "nightly.toml"
#: Reviews a CPU fine-tune scores in a few minutes (about 4 a second on the 2-vCPU dev box).
MOST_PER_NIGHT = 1000


def test_every_score_step_that_can_reach_a_transformer_is_bounded():
    steps = [s.options for s in load_job(JOB).steps if s.kind == "score"]
    assert steps
    for step in steps:
        cheap = step.models is not None and all(m.startswith("tfidf") for m in step.models)
        bound = step.run.options.max_reviews
        assert cheap or (bound is not None and bound <= MOST_PER_NIGHT), step
    text = JOB.read_text(encoding="utf-8")
    assert "How to scale it" in text and "threads" in text and 'device = "cuda"' in text


def test_the_shipped_job_runs(invoke, tmp_path, db_path, learnable_source, tiny_bert):
    source = learnable_source(300, 1200)
    ok(invoke("ingest", "--source", str(source)))
    ok(invoke("train", "tfidf-lr"))
    ok(invoke("models", "register", "finetuned", "--hf", str(tiny_bert), "--max-length", "64"))
    job = tmp_path / "jobs" / "nightly.toml"
    job.parent.mkdir()
    job.write_text(JOB.read_text(encoding="utf-8").replace('"../asaas.duckdb"', f'"{db_path}"')
                   .replace('"../../shared/data/imdb"', f'"{source}"'), encoding="utf-8")
    assert run_job(job) == 0
    report = (tmp_path / "reports" / "nightly.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in report.splitlines()
            if line.startswith("| tfidf-lr") or line.startswith("| finetuned")}
    assert "| 1200 |" in rows["tfidf-lr"]  # everything new
    bound = load_job(job).steps[2].options.run.options.max_reviews
    assert f"| {bound} |" in rows["finetuned"] and "incomplete" in rows["finetuned"]
    assert "paired on the reviews both versions scored" in report
    assert (tmp_path / "reports" / "nightly.html").stat().st_size > 1000
