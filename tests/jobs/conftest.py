"""Fixtures of the job tests: a nightly job file, and one ready to run on a database with reviews
and a registered tiny model."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def write_job(tmp_path: Path):
    """``write_job(source, db_path, models='"all"', extra="")`` writes jobs/nightly.toml: ingest
    ``source``, score ``models`` on the test split, install the views, write a JSON report
    (``extra``: more keys for the report step); returns its path."""
    def _write(source: Path, db_path, *, models: str = '"all"', extra: str = "") -> Path:
        job = tmp_path / "jobs" / "nightly.toml"
        job.parent.mkdir(exist_ok=True)
        job.write_text(textwrap.dedent(f"""
            name = "nightly"
            db = "{db_path}"

            [[steps]]
            kind = "ingest"
            source = "{source}"

            [[steps]]
            kind = "score"
            models = {models}
            splits = ["test"]

            [[steps]]
            kind = "views"

            [[steps]]
            kind = "report"
            path = "../reports/nightly.json"
            format = "json"
            {extra}
        """))
        return job

    return _write


@pytest.fixture
def job_setup(invoke, write_job, db_path, learnable_source, tiny_bert) -> Path:
    """The nightly job on a DuckDB database with 160 reviews and the tiny model registered."""
    source = learnable_source(40, 120)
    assert invoke("ingest", "--source", str(source)).exit_code == 0
    assert invoke("models", "register", "tiny", "--hf", str(tiny_bert),
                  "--max-length", "64").exit_code == 0
    return write_job(source, db_path)
