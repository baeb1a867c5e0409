"""The crontab line (asaas/jobs/cron.py): it runs the job under cron's bare environment (env -i),
and a schedule cron would not take is refused."""

from __future__ import annotations

import shlex
import subprocess
import sys

from asaas.jobs import crontab_line
from tests.helpers import q as _q


def test_crontab_line_works_under_env_i(job_setup, db_path, tmp_path):
    line = crontab_line(job_setup, "0 3 * * *")
    fields = line.split(" ", 5)
    assert fields[:5] == ["0", "3", "*", "*", "*"]
    command = fields[5]
    assert sys.executable.split("/")[-1] in command and str(job_setup) in command
    env = ["env", "-i", "PATH=/usr/bin:/bin", "HOME=" + str(tmp_path)]
    proc = subprocess.run(env + ["sh", "-c", command], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = (job_setup.parent / "logs" / "nightly.log").read_text()
    assert "job nightly succeeded" in log
    assert _q(db_path, "SELECT status FROM job_runs") == [("succeeded",)]


def test_crontab_rejects_bad_schedule(job_setup, invoke):
    result = invoke("job", "cron", str(job_setup), "--schedule", "every night")
    assert result.exit_code != 0 and "not a cron schedule" in result.output
    ok = invoke("job", "cron", str(job_setup), "--schedule", "@daily")
    assert ok.exit_code == 0 and ok.output.startswith("@daily ")
    assert shlex.split(ok.output.split(" ", 1)[1])  # a valid shell command line
