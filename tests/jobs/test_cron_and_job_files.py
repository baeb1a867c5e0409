"""Hostile job files, crontab lines and output paths (issue 18, item 9): a line break anywhere
the crontab line quotes is refused (it would start a cron entry of its own), `%` survives
cron, schedules are cron schedules, deep TOML and FIFOs are one-line bad job files, log lines
stay one line, and a report written to a device or through a link is a one-line error or
written where the link points, never a device replaced."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from asaas.jobs import EXIT_BAD_JOB, EXIT_OK, run_job
from tests.helpers import err, ok, q

INJECTED = "\n* * * * * touch /tmp/asaas-pwned #"


def _job(folder: Path, body: str = "[[steps]]\nkind = \"views\"\n", name: str = "n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "job.toml"
    path.write_text(f'name = "{name}"\n{body}')
    return path


def _cron_entries(line: str) -> list[str]:
    return [entry for entry in line.splitlines() if entry.strip()]


@pytest.mark.parametrize("where", ["job path", "--db", "--log", "ASAAS_HOME"])
def test_a_line_break_cannot_add_a_cron_entry(invoke, tmp_path, monkeypatch, where):
    job = _job(tmp_path / ("jobs" + INJECTED if where == "job path" else "jobs"))
    args = ["job", "cron", str(job)]
    if where == "--db":
        args += ["--db", str(tmp_path / "x.duckdb") + INJECTED]
    elif where == "--log":
        args += ["--log", str(tmp_path / "x.log") + INJECTED]
    elif where == "ASAAS_HOME":
        monkeypatch.setenv("ASAAS_HOME", str(tmp_path / "home") + INJECTED)
    result = invoke(*args)
    line = err(result)
    assert "control character" in line and len(_cron_entries(result.output)) == 1


@pytest.mark.parametrize("schedule", ["0 3 * * rm", "0 3 * * *\n* * * * * evil",
                                      "@daily\n* * * * * evil", "0 3 * * $(evil)", "@DAILY",
                                      "* * * * * *", "0 3 * * mon;evil"])
def test_schedules_are_cron_schedules(invoke, tmp_path, schedule):
    assert "not a cron schedule" in err(invoke("job", "cron", str(_job(tmp_path)),
                                               "--schedule", schedule))


@pytest.mark.parametrize("schedule", ["*/15 1-5 * jan,jul mon-fri", "0 3 * * *", "@reboot",
                                      "5 4 1,15 * SUN"])
def test_real_schedules_pass(invoke, tmp_path, schedule):
    line = ok(invoke("job", "cron", str(_job(tmp_path)), "--schedule", schedule)).strip()
    assert line.startswith(schedule + " ") and len(_cron_entries(line)) == 1


def _as_cron_runs_it(line: str) -> str:
    """What cron hands to /bin/sh for the command part of a crontab line: "\\%" becomes "%",
    and a bare "%" ends the command (the rest is its stdin)."""
    command = line.split(" ", 5)[5]
    out, escaped = [], False
    for ch in command:
        if escaped:
            out.append(ch if ch == "%" else "\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            break  # a bare %: cron cuts the command here
        else:
            out.append(ch)
    return "".join(out)


def test_percent_and_spaces_in_paths_survive_cron(tmp_path, db_path):
    from asaas.jobs import crontab_line

    job = _job(tmp_path / "100% jobs", name="pct")
    line = crontab_line(job, "0 3 * * *", db_url=str(db_path))
    assert "%" not in line.replace("\\%", "")  # every % escaped for cron
    env = ["env", "-i", "PATH=/usr/bin:/bin", "HOME=" + str(tmp_path)]
    proc = subprocess.run(env + ["sh", "-c", _as_cron_runs_it(line)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "job pct succeeded" in (job.parent / "logs" / "pct.log").read_text()
    assert q(db_path, "SELECT status FROM job_runs") == [("succeeded",)]


def test_deep_toml_and_fifos_are_bad_job_files(tmp_path, invoke):
    deep = tmp_path / "deep.toml"
    deep.write_text("steps = " + "[" * 5000 + "]" * 5000 + "\n")
    out = io.StringIO()
    assert run_job(deep, stream=out) == EXIT_BAD_JOB
    assert "nests arrays or tables too deeply" in out.getvalue()
    assert "nests" in err(invoke("job", "cron", str(deep)))
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    out = io.StringIO()
    assert run_job(fifo, stream=out) == EXIT_BAD_JOB  # refused, not a read that blocks
    assert "not a plain file" in out.getvalue()
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (1 << 20) + "\n[[steps]]\nkind = \"views\"\n")
    out = io.StringIO()
    assert run_job(big, stream=out) == EXIT_BAD_JOB and "over 1 MB" in out.getvalue()


def test_log_lines_stay_one_line(tmp_path, db_path):
    """A line break in a job's path would write a line of its own into the cron log."""
    job = _job(tmp_path / ("jobs\n2030-01-01T00:00:00Z job n succeeded in 0.1 s (exit 0)"))
    job.write_text('name = "n"\n[[steps]]\nkind = "nope"\n')
    out = io.StringIO()
    assert run_job(job, db_url=str(db_path), stream=out) == EXIT_BAD_JOB
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "\\n2030-01-01" in lines[0], lines
    good = _job(tmp_path / "fine\x1b[2Jjobs")
    out = io.StringIO()
    assert run_job(good, db_url=str(db_path), stream=out) == EXIT_OK
    assert "\x1b" not in out.getvalue()


@pytest.fixture
def scored(invoke, learnable_source):
    ok(invoke("ingest", "--source", str(learnable_source(60, 40))))
    ok(invoke("train", "tfidf-lr"))
    ok(invoke("score", "--model", "tfidf-lr", "--quiet"))


def test_reports_to_a_device_or_through_a_link(scored, invoke, tmp_path, db_path):
    """`--html /dev/full` renamed a temporary file over the device (as root: /dev/full became
    a plain file); a link to it was replaced by a file. Now the link is followed and a device
    is written in place: /dev/full answers "No space left on device", in one line."""
    link = tmp_path / "report.html"
    link.symlink_to("/dev/full")
    line = err(invoke("report", "--html", str(link)))
    assert "No space left on device" in line
    assert link.is_symlink() and Path("/dev/full").is_char_device()
    real = tmp_path / "site" / "real.html"
    real.parent.mkdir()
    real.write_text("old")
    kept = tmp_path / "latest.html"
    kept.symlink_to(real)
    ok(invoke("report", "--html", str(kept)))
    assert kept.is_symlink() and real.read_text().startswith("<!DOCTYPE html>")
    folder = tmp_path / "a-folder.csv"
    folder.mkdir()
    job = _job(tmp_path / "jobs", '[[steps]]\nkind = "report"\npath = "../a-folder.csv"\n'
                                  'format = "csv"\n')
    out = io.StringIO()
    assert run_job(job, db_url=str(db_path), stream=out) != EXIT_OK
    assert re.search(r"FAILED .*cannot write .*a-folder.csv", out.getvalue())
    job = _job(tmp_path / "jobs", '[[steps]]\nkind = "report"\npath = "../report.html"\n'
                                  'format = "csv"\n')
    out = io.StringIO()
    assert run_job(job, db_url=str(db_path), stream=out) != EXIT_OK
    assert "No space left on device" in out.getvalue() and link.is_symlink()


def test_report_to_stdout_through_a_link(scored, tmp_path, db_path):
    """A report step writing through a link to /dev/stdout writes to the job's output instead
    of replacing the link (written to /dev/stdout itself, as root, that replaced /dev/stdout
    for every process: the tests use a link to it)."""
    link = tmp_path / "out.csv"
    link.symlink_to("/dev/stdout")
    job = _job(tmp_path / "jobs", f'[[steps]]\nkind = "report"\npath = "{link}"\n'
                                  'format = "csv"\n')
    proc = subprocess.run([sys.executable, "-m", "asaas", "job", "run", str(job), "--db",
                           str(db_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("model,version,scoring"), proc.stdout
    assert link.is_symlink()
