"""Every setting asaas reads, with its environment variable, default and meaning.

Nothing else in the package reads ``os.environ`` for asaas settings: look here first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: Default database: an embedded DuckDB file in the working directory.
DEFAULT_DB_FILE = "asaas.duckdb"

#: Hugging Face Hub dataset that ``asaas ingest`` loads when no ``--source`` is given.
DEFAULT_HF_DATASET = "stanfordnlp/imdb"

#: Dataset name of ingested reviews when none is given (``--format steam``: "steam").
DEFAULT_DATASET = "imdb"

#: Longest review text ingest accepts, in characters (longer ones are rejected with a reason).
DEFAULT_MAX_REVIEW_CHARS = 1_000_000


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        from asaas.errors import ConfigError

        raise ConfigError(f"{name}={raw!r} is not a number; set it to seconds, e.g. {name}=30")


def _env_int(name: str, default: int, example: str) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        from asaas.errors import ConfigError

        raise ConfigError(f"{name}={raw!r} is not a positive whole number; e.g. {name}={example}")
    return value


#: DuckDB storage format of new database files: readable by DuckDB 1.4 and newer clients (the
#: duckdb CLI, DBeaver, older Python packages), not only by the DuckDB 2 that asaas runs.
DEFAULT_DUCKDB_STORAGE = "v1.4.0"


#: Memory DuckDB may use in an asaas process before it spills to disk. DuckDB's own default is 80%
#: of the machine's memory, which it fills with cached table blocks as the database grows: the
#: process then grows with the corpus although asaas streams it.
DEFAULT_DUCKDB_MEMORY = "1GB"

#: The same for a scoring run, which streams the corpus and needs no cache: with 1GB its peak
#: memory grew from 522 MB at 1M reviews to 949 MB at 5M (blocks kept after being read); with
#: 256MB, 517 and 617 MB at the same rate (bench/README.md, scale_bench). Index lookups stay
#: within it: DuckDB pages a primary key of 30M predictions through its buffer pool.
DEFAULT_DUCKDB_STREAM_MEMORY = "256MB"


def duckdb_memory_limit(default: str = DEFAULT_DUCKDB_MEMORY) -> str | None:
    """``ASAAS_DUCKDB_MEMORY``: DuckDB's memory_limit for asaas' connections (e.g. 512MB, 4GB),
    or ``default`` for DuckDB's own (80% of the machine's memory). Unset: ``default``."""
    import re

    raw = (os.environ.get("ASAAS_DUCKDB_MEMORY") or default).strip()
    if raw.lower() == "default":
        return None
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", raw, re.IGNORECASE):
        from asaas.errors import ConfigError

        raise ConfigError(f"ASAAS_DUCKDB_MEMORY={raw!r} is not a memory size; use e.g. 512MB, "
                          "4GB, or default")
    return raw


def duckdb_config() -> dict[str, str]:
    """Settings of every DuckDB connection asaas opens (storage format, memory limit)."""
    config = {"storage_compatibility_version": duckdb_storage_version()}
    memory = duckdb_memory_limit()
    if memory:
        config["memory_limit"] = memory
    return config


def duckdb_storage_version() -> str:
    """``ASAAS_DUCKDB_STORAGE``: the storage format new DuckDB files are written in ("latest" for
    DuckDB's newest, which older clients cannot open). Existing files keep theirs."""
    raw = (os.environ.get("ASAAS_DUCKDB_STORAGE") or DEFAULT_DUCKDB_STORAGE).strip()
    import re

    if raw != "latest" and not re.fullmatch(r"v\d+\.\d+\.\d+", raw):
        from asaas.errors import ConfigError

        raise ConfigError(f"ASAAS_DUCKDB_STORAGE={raw!r} is not a DuckDB version; use e.g. "
                          f"{DEFAULT_DUCKDB_STORAGE} or latest")
    return raw


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one invocation.

    db_url
        ``ASAAS_DB`` or ``--db``: any SQLAlchemy URL, or a plain path to a DuckDB file.
        Default: ``asaas.duckdb`` in the working directory.
    home
        ``ASAAS_HOME``: where model artifacts are kept. Default: ``asaas-home/`` next to the
        DuckDB file (so a database and its models move together), or ``~/.asaas`` for a server
        database such as PostgreSQL.
    busy_timeout_s
        ``ASAAS_BUSY_TIMEOUT``: how long to keep retrying when another process holds the DuckDB
        file (DuckDB allows one writer process and no readers beside it). Default 30 s.
    max_review_chars
        ``ASAAS_MAX_REVIEW_CHARS``: reviews longer than this many characters are rejected at
        ingest (``asaas ingest --max-review-chars`` overrides). Default 1,000,000.
    sql_timeout_s
        ``ASAAS_SQL_TIMEOUT``: seconds after which `asaas sql` cancels its query (``--timeout``
        overrides; 0: no limit). Default 60. On DuckDB a running query keeps writers out of
        the file, so this also bounds how long it can hold up `asaas score` or `ingest`.
    """

    db_url: str = field(default_factory=lambda: os.environ.get("ASAAS_DB") or DEFAULT_DB_FILE)
    home: str | None = field(default_factory=lambda: os.environ.get("ASAAS_HOME") or None)
    busy_timeout_s: float = field(default_factory=lambda: _env_float("ASAAS_BUSY_TIMEOUT", 30.0))
    max_review_chars: int = field(default_factory=lambda: _env_int(
        "ASAAS_MAX_REVIEW_CHARS", DEFAULT_MAX_REVIEW_CHARS, "1000000"))
    sql_timeout_s: float = field(default_factory=lambda: _env_float("ASAAS_SQL_TIMEOUT", 60.0))

    def model_home(self, db_url: str) -> Path:
        """Directory for model artifacts belonging to the database at ``db_url``."""
        if self.home:
            return Path(self.home).expanduser()
        from asaas.store.urls import duckdb_file_path

        db_file = duckdb_file_path(db_url)
        if db_file is not None:
            return db_file.resolve().parent / "asaas-home"
        return Path("~/.asaas").expanduser()
