"""The crontab line that runs a job file under cron's bare environment.

A crontab is a program: a line break in anything the line quotes (a job path, a log path,
``--db``, ASAAS_HOME) would start a second entry that cron runs on its own schedule, with the
user's rights. So every value is checked for control characters and refused (quoting cannot
help: cron splits lines before any shell sees them), values are quoted with ``shlex`` for the
shell, every ``%`` is escaped for cron (which turns a bare one into a line break and feeds the
rest to the command's stdin), and the schedule must be five cron fields or an @ keyword.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

from asaas.errors import JobError
from asaas.jobs.loading import load_job

#: The @ keywords of Vixie cron and cronie.
SCHEDULE_KEYWORDS = ("@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily",
                     "@midnight", "@hourly")

#: One field of a five-field schedule: *, numbers, ranges, steps and lists of them, and the
#: month and day names cron knows (jan, mon...).
_NAMES = ("jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat")
_ITEM = rf"(?:\*|\d{{1,2}}|{_NAMES})(?:-(?:\d{{1,2}}|{_NAMES}))?(?:/\d{{1,2}})?"
_FIELD = re.compile(rf"{_ITEM}(?:,{_ITEM})*", re.IGNORECASE)

#: Characters no crontab value may hold: C0 controls (line breaks first), DEL and the C1
#: controls, and Unicode's line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def crontab_line(path: str | Path, schedule: str, *, log_file: str | None = None,
                 db_url: str | None = None) -> str:
    """A crontab line that works under cron's bare environment: absolute paths everywhere,
    this very Python interpreter, output appended to a log file."""
    _check_value("the job file's path", str(path))
    job = load_job(path)
    fields = _check_schedule(schedule)
    log = Path(log_file).expanduser().resolve() if log_file else \
        job.path.parent / "logs" / f"{job.name}.log"
    python = Path(sys.executable).absolute()
    cmd = [str(python), "-m", "asaas", "job", "run", str(job.path)]
    if db_url:
        cmd += ["--db", db_url]
    values = [("the job file's path", str(job.path)), ("the log file", str(log)),
              ("--db", db_url or ""), ("the Python interpreter's path", str(python))]
    env = ""
    for var in ("ASAAS_HOME", "HF_HOME", "HF_HUB_OFFLINE"):
        if os.environ.get(var):
            values.append((var, os.environ[var]))
            env += f"{var}={shlex.quote(os.environ[var])} "
    for what, value in values:
        _check_value(what, value)
    command = (f"mkdir -p {shlex.quote(str(log.parent))} && cd {shlex.quote(str(job.path.parent))}"
               f" && {env}{' '.join(shlex.quote(c) for c in cmd)} >> {shlex.quote(str(log))} 2>&1")
    # cron treats an unescaped % as a newline (the rest goes to the command's stdin): escape it.
    return f"{' '.join(fields)} {command.replace('%', chr(92) + '%')}"


def _check_schedule(schedule: str) -> list[str]:
    """The schedule's fields: five cron fields or one @ keyword, else a JobError."""
    fields = schedule.split()
    if len(fields) == 1 and fields[0] in SCHEDULE_KEYWORDS:
        return fields
    if len(fields) == 5 and all(_FIELD.fullmatch(f) for f in fields) \
            and not _CONTROL.search(schedule):
        return fields
    raise JobError(f"schedule {schedule!r} is not a cron schedule; use five fields such as "
                   "\"0 3 * * *\" (03:00 every day) or @daily")


def _check_value(what: str, value: str) -> None:
    """Refuse a value that would break the crontab line: a control character (a line break
    starts another cron entry) or text that is not valid Unicode (a file name in another
    encoding, which cannot be printed)."""
    found = _CONTROL.search(value)
    if found:
        raise JobError(f"{what} {value!r} holds a control character ({found.group()!r}), which "
                       "would break the crontab line (a line break starts another cron entry); "
                       "rename it")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise JobError(f"{what} {value!r} is not valid UTF-8 text; rename it") from None
