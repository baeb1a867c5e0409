"""Reading a job file: its name, database and steps, each step's keys checked into its options
type (``steps.STEPS``) before anything runs."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asaas.errors import AsaasError, JobError
from asaas.jobs.steps import STEPS

_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class Step:
    kind: str
    options: Any  # STEPS[kind].options


@dataclass
class Job:
    name: str
    path: Path
    db: str | None
    steps: list[Step]


def load_job(path: str | Path) -> Job:
    """Parse and check a job file; every problem is a JobError naming the file and the fix."""
    file = Path(path).expanduser().resolve()
    data = _read(file, path)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise JobError(f"job file {path} has no [[steps]]; add at least one")
    steps = [_load_step(raw, f"step {i} of {path}") for i, raw in enumerate(raw_steps, start=1)]
    name = str(data.get("name") or file.stem)
    if not _JOB_NAME.match(name):
        raise JobError(f"job name {name!r} in {path} is not allowed: use letters, digits, '.', "
                       "'_' and '-', starting with a letter or digit (e.g. nightly)")
    db = data.get("db")
    if db is not None and "://" not in str(db):
        db = str((file.parent / str(db)).resolve())
    return Job(name=name, path=file, db=db, steps=steps)


#: Largest job file read: a job file is a few dozen lines.
MAX_JOB_FILE_BYTES = 1 << 20


def _read(file: Path, path: str | Path) -> dict[str, Any]:
    if not file.exists():
        raise JobError(f"job file {path} does not exist; see jobs/nightly.toml for an example")
    if not file.is_file():  # a folder, a FIFO (would block), a device
        raise JobError(f"job file {path} is not a plain file; pass a .toml file")
    try:
        with file.open("rb") as f:
            data = f.read(MAX_JOB_FILE_BYTES + 1)
    except OSError as exc:
        raise JobError(f"cannot read job file {path} ({exc.strerror})") from None
    if len(data) > MAX_JOB_FILE_BYTES:
        raise JobError(f"job file {path} is over {MAX_JOB_FILE_BYTES >> 20} MB; a job file "
                       "lists a few steps")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise JobError(f"job file {path} is not valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays or tables
        raise JobError(f"job file {path} nests arrays or tables too deeply to read; a job "
                       "file needs two levels") from None


def _load_step(raw: Any, where: str) -> Step:
    """One ``[[steps]]`` table as its kind's options: a bad key, type or value is a bad job
    file (exit 2), found before anything runs, not a failure half-way through the night."""
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in STEPS:
        raise JobError(f"{where} has kind {kind!r}; use one of {', '.join(STEPS)}")
    values = {key: value for key, value in raw.items() if key != "kind"}
    try:
        return Step(kind, STEPS[kind].options.from_values(values, "job"))
    except AsaasError as exc:
        raise JobError(f"{where} ({kind}): {exc}") from None
