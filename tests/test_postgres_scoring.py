"""Several `asaas score` processes on one model version against one PostgreSQL server split the
work (row claims with SKIP LOCKED), never write a duplicate and leave no gap, even when one of
them is killed with SIGKILL mid-chunk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import sqlalchemy as sa

from tests.helpers import ok

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
    ok(invoke("ingest", "--db", url, "--source", str(review_file(400))))
    ok(invoke("models", "register", "tiny", "--db", url, "--hf", str(tiny_bert),
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
