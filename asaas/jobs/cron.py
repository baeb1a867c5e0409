"""The crontab line that runs a job file under cron's bare environment."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from asaas.errors import JobError
from asaas.jobs.loading import load_job


def crontab_line(path: str | Path, schedule: str, *, log_file: str | None = None,
                 db_url: str | None = None) -> str:
    """A crontab line that works under cron's bare environment: absolute paths everywhere,
    this very Python interpreter, output appended to a log file."""
    job = load_job(path)
    fields = schedule.split()
    if len(fields) != 5 and not (len(fields) == 1 and fields[0].startswith("@")):
        raise JobError(f"schedule {schedule!r} is not a cron schedule; use five fields such as "
                       "\"0 3 * * *\" (03:00 every day) or @daily")
    log = Path(log_file).expanduser().resolve() if log_file else \
        job.path.parent / "logs" / f"{job.name}.log"
    python = Path(sys.executable).absolute()
    cmd = [str(python), "-m", "asaas", "job", "run", str(job.path)]
    if db_url:
        cmd += ["--db", db_url]
    env = ""
    for var in ("ASAAS_HOME", "HF_HOME", "HF_HUB_OFFLINE"):
        if os.environ.get(var):
            env += f"{var}={shlex.quote(os.environ[var])} "
    command = (f"mkdir -p {shlex.quote(str(log.parent))} && cd {shlex.quote(str(job.path.parent))}"
               f" && {env}{' '.join(shlex.quote(c) for c in cmd)} >> {shlex.quote(str(log))} 2>&1")
    # cron treats an unescaped % as a newline: escape it.
    return f"{schedule} {command.replace('%', chr(92) + '%')}"
