"""`asaas score --engine ray` (asaas/scoring/ray_engine.py): the local engine's probabilities,
resumable after a killed driver, one-line errors for bad options.

One local Ray instance (2 CPUs) serves the module; starting it takes seconds, and every Ray run
starts its actors (each loads the model once), so the tests here are few and each does a lot.
Without Ray installed they are skipped, except under CI, where they fail (tests/requires.py):
`make test` installs the [ray] extra.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from asaas.errors import AsaasError, ConfigError
from asaas.jobs import EXIT_BAD_JOB, run_job
from asaas.models.registry import get_version
from asaas.scoring import ScoreOptions, score
from asaas.scoring.ray_engine import (LOCAL_OBJECT_STORE_BYTES, RayOptions, pack_artifact,
                                      score_ray, unpack_artifact)
from asaas.store import open_store
from tests.helpers import err as _err
from tests.helpers import ok as _ok
from tests.helpers import q as _q
from tests.requires import require

# Ray Data's own DataContext warns about its renamed settings; not ours to fix.
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings(r"ignore::DeprecationWarning:ray\..*")]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance with 2 CPUs for the whole module; yields its address."""
    require("ray")
    import ray
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
             log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _probs(db_path, model: str) -> dict[int, tuple[float, int | None, bool | None]]:
    rows = _q(db_path, f"""
        SELECT p.review_id, p.prob_positive, p.n_tokens, p.truncated FROM predictions p
        JOIN model_versions v ON v.id = p.model_version_id JOIN models m ON m.id = v.model_id
        WHERE m.name = '{model}'""")
    return {r[0]: r[1:] for r in rows}


def _runs(db_path) -> list[tuple[str, dict]]:
    return [(r[0], json.loads(r[1])) for r in
            _q(db_path, "SELECT status, settings FROM scoring_runs ORDER BY id")]


def test_ray_engine_stores_the_local_engines_probabilities(ray_cluster, invoke, db_path,
                                                           review_file, tiny_bert):
    _ok(invoke("ingest", "--source", str(review_file(90))))
    for name in ("local", "ray"):
        _ok(invoke("models", "register", name, "--hf", str(tiny_bert)))
    _ok(invoke("score", "--model", "local", "--quiet"))
    out = _ok(invoke("score", "--model", "ray", "--engine", "ray", "--workers", "2",
                     "--batch-size", "16", "--quiet"))
    assert "scored 90 reviews" in out and "with 2 Ray workers" in out
    local, ray = _probs(db_path, "local"), _probs(db_path, "ray")
    assert sorted(ray) == sorted(local) and len(ray) == 90
    diff = max(abs(ray[i][0] - local[i][0]) for i in local)
    assert diff < 1e-5
    assert [ray[i][1:] for i in sorted(ray)] == [local[i][1:] for i in sorted(local)]
    assert sum(1 for v in ray.values() if v[2]) > 0  # some reviews were cut at 128 tokens
    assert _q(db_path, "SELECT count(*), count(DISTINCT (review_id, model_version_id)) "
                       "FROM predictions") == [(180, 180)]
    status, settings = _runs(db_path)[-1]
    assert status == "succeeded"
    assert settings["engine"] == "ray" and settings["workers"] == 2
    assert settings["chunk_size"] == 16 and settings["artifact_shipped"] is False
    # Nothing pending: said at once, no run recorded, no Ray work started.
    again = _ok(invoke("score", "--model", "ray", "--engine", "ray", "--quiet"))
    assert "nothing to score" in again and len(_runs(db_path)) == 2


def test_sklearn_model_with_its_artifact_shipped(ray_cluster, invoke, db_path, learnable_source):
    """The path a multi-node cluster takes: the artifact travels through the object store."""
    _ok(invoke("ingest", "--source", str(learnable_source(n_train=120, n_test=70))))
    _ok(invoke("train", "tfidf-lr"))
    store = open_store(str(db_path))
    mv = get_version(store, "tfidf-lr")
    score(store, mv, ScoreOptions(progress=False))
    local = _probs(db_path, "tfidf-lr")
    with store.transaction() as conn:
        conn.exec_driver_sql(f"DELETE FROM predictions WHERE model_version_id = {mv.id}")
    report = score_ray(store, mv, ScoreOptions(chunk_size=25, progress=False),
                       RayOptions(workers=1, ship_artifact=True))
    assert report.scored == 70 and report.failed == 0 and report.workers == 1
    ray = _probs(db_path, "tfidf-lr")
    assert sorted(ray) == sorted(local)
    assert max(abs(ray[i][0] - local[i][0]) for i in local) < 1e-5
    assert _runs(db_path)[-1][1]["artifact_shipped"] is True


def test_killed_driver_resumes_without_duplicates_or_gaps(ray_cluster, invoke, db_path,
                                                          review_file, tiny_bert, tmp_path,
                                                          capsys):
    _ok(invoke("ingest", "--source", str(review_file(300))))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    # The driver joins the module's cluster; a setup hook slows the actors' scoring down so the
    # kill lands mid-run (the library itself has no test hooks).
    script = tmp_path / "ray_driver.py"
    script.write_text(textwrap.dedent(f"""
        import ray
        def slow_down():
            import time
            from asaas.scoring import scorers
            real = scorers.HFScorer.run
            def slow(self, enc):
                time.sleep(0.2)
                return real(self, enc)
            scorers.HFScorer.run = slow
        ray.init(address={ray_cluster!r}, log_to_driver=False,
                 runtime_env={{"worker_process_setup_hook": slow_down}})
        from asaas.models.registry import get_version
        from asaas.scoring import ScoreOptions
        from asaas.scoring.ray_engine import RayOptions, score_ray
        from asaas.store import open_store
        store = open_store({str(db_path)!r})
        score_ray(store, get_version(store, "tiny"),
                  ScoreOptions(chunk_size=5, commit_rows=5, progress=False),
                  RayOptions(workers=2))
    """))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=REPO, env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300  # a busy shared box starts Ray slowly
    seen = 0
    try:
        while time.time() < deadline and seen < 30 and proc.poll() is None:
            time.sleep(0.3)
            try:
                seen = _q(db_path, "SELECT count(*) FROM predictions")[0][0]
            except duckdb.IOException:
                continue  # the writer holds the file for a moment
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert 30 <= seen < 300, f"killed after {seen} predictions"
    assert _runs(db_path)[0][0] == "running"  # the killed driver could not say otherwise
    # The rerun is a scheduled job's score step on the Ray engine (what cron would do).
    job = tmp_path / "nightly.toml"
    job.write_text(f'db = {str(db_path)!r}\n[[steps]]\nkind = "score"\nmodels = ["tiny"]\n'
                   'engine = "ray"\nworkers = 2\n')
    assert run_job(job) == 0
    assert "score tiny v1: scored" in capsys.readouterr().err
    assert _q(db_path, "SELECT count(*), count(DISTINCT review_id) FROM predictions") == \
        [(300, 300)]
    assert _q(db_path, "SELECT count(*) FROM reviews r WHERE NOT EXISTS "
                       "(SELECT 1 FROM predictions p WHERE p.review_id = r.id)") == [(0,)]
    assert [r[0] for r in _runs(db_path)] == ["interrupted", "succeeded"]


def test_a_model_the_actors_cannot_load_is_one_line(ray_cluster, invoke, db_path, review_file,
                                                    tiny_bert, tmp_path):
    _ok(invoke("ingest", "--source", str(review_file(20))))
    model = shutil.copytree(tiny_bert, tmp_path / "doomed")
    _ok(invoke("models", "register", "doomed", "--hf", str(model)))
    (model / "model.safetensors").unlink()  # gone after registration: only the actors notice
    line = _err(invoke("score", "--model", "doomed", "--engine", "ray", "--workers", "1",
                       "--quiet"), after_log_lines=True)
    assert "doomed" in line or "safetensors" in line or "weights" in line, line
    assert [r[0] for r in _runs(db_path)] == ["failed"]
    assert _q(db_path, "SELECT count(*) FROM predictions") == [(0,)]


def test_bad_options_are_one_line_errors(ray_cluster, invoke, learnable_source, tiny_bert,
                                         tmp_path, capsys):
    _ok(invoke("ingest", "--source", str(learnable_source(n_train=40, n_test=10))))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    _ok(invoke("train", "tfidf-lr"))
    base = ("score", "--model", "tiny", "--quiet")
    cases = [
        (("--engine", "ray", "--workers", "0"), "--workers must be at least 1"),
        (("--engine", "ray", "--gpus-per-worker", "1"), "the Ray cluster has 0 GPUs"),
        (("--engine", "ray", "--gpus-per-worker", "-1"), "must not be negative"),
        (("--engine", "ray", "--workers", "3"), "needs 3 CPUs; the Ray cluster has 2"),
        (("--engine", "ray", "--device", "cuda"), "--gpus-per-worker"),
        (("--engine", "ray", "--batch-size", "0"), "--batch-size must be at least 1"),
        (("--engine", "ray", "--address", "10.255.255.1:6379"), "already connected"),
        (("--workers", "2",), "add --engine ray"),
        (("--address", "auto", "--gpus-per-worker", "1"), "are for the Ray engine"),
    ]
    for extra, fragment in cases:
        line = _err(invoke(*base, *extra))
        assert fragment in line, (extra, line)
    line = _err(invoke("score", "--model", "tfidf-lr", "--engine", "ray", "--gpus-per-worker",
                       "1", "--quiet"))
    assert "runs on CPU" in line
    for body, fragment in (('engine = "spark"', "engine 'spark' is not known; use \"local\" or "
                                                "\"ray\""),
                           ('engine = "ray"\nworkers = 0', "workers = 0 must be a whole number"),
                           ('engine = "ray"\ngpus_per_worker = "one"', "gpus_per_worker = 'one'")):
        job = tmp_path / "bad.toml"
        job.write_text(f'[[steps]]\nkind = "score"\n{body}\n')
        assert run_job(job) == EXIT_BAD_JOB
        assert fragment in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_address_is_refused_at_once(ray_cluster, invoke, review_file, tiny_bert,
                                                db_path):
    """In a fresh process (this one is connected to the module's cluster): Ray itself would
    wait for an unreachable cluster without end."""
    _ok(invoke("ingest", "--source", str(review_file(10))))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    t0 = time.perf_counter()
    for address, fragment in ((f"127.0.0.1:{_free_port()}", "no Ray cluster answers at"),
                              ("nonsense", "is not auto, HOST:PORT")):
        proc = subprocess.run([sys.executable, "-m", "asaas", "score", "--model", "tiny",
                               "--engine", "ray", "--address", address, "--quiet"],
                              cwd=REPO, env={**os.environ}, capture_output=True, text=True,
                              timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("Error: ") and fragment in lines[0], lines[0]
    assert time.perf_counter() - t0 < 100  # seconds, not Ray's endless wait
    assert _q(db_path, "SELECT count(*) FROM scoring_runs") == [(0,)]


def test_missing_ray_says_how_to_install(monkeypatch, review_file, tiny_bert, invoke, db_path):
    _ok(invoke("ingest", "--source", str(review_file(10))))
    _ok(invoke("models", "register", "tiny", "--hf", str(tiny_bert)))
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    line = _err(invoke("score", "--model", "tiny", "--engine", "ray", "--quiet"))
    assert 'pip install "asaas[ray]"' in line


def test_packed_artifact_round_trip_and_escape_refused(tmp_path):
    art = tmp_path / "art"
    (art / "sub").mkdir(parents=True)
    (art / "config.json").write_text("{}")
    (art / "sub" / "w.bin").write_bytes(b"\x00\x01")
    packed = pack_artifact(str(art))
    out = Path(unpack_artifact(packed))
    assert (out / "config.json").read_text() == "{}"
    assert (out / "sub" / "w.bin").read_bytes() == b"\x00\x01"
    assert unpack_artifact(packed) == str(out)  # same content, same place: unpacked once
    assert pack_artifact("some-org/some-hub-model") is None
    evil = {"files": {"../../escaped": b"x"}, "name": "", "digest": "f" * 64}
    with pytest.raises(AsaasError, match="outside the artifact"):
        unpack_artifact(evil)
    assert not (Path(out).parent.parent / "escaped").exists()


def test_options_refused_before_ray_starts():
    for opts, fragment in ((RayOptions(workers=0), "--workers"),
                           (RayOptions(gpus_per_worker=-0.5), "--gpus-per-worker"),
                           (RayOptions(address=" "), "--address is empty")):
        with pytest.raises(ConfigError, match=fragment):
            opts.check()
