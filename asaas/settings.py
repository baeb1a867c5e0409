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

#: Dataset name of ingested reviews when none is given (``--format steam``: "steam"), and the
#: dataset that score, report and disagreements read when none is given (see DATASET_HELP).
DEFAULT_DATASET = "imdb"

# ``--dataset NAME`` (and a job step's ``dataset = "NAME"``) means one thing on every command
# that reads reviews: only reviews of dataset NAME. What omitting it means follows from what the
# command computes, and every --help says it in the same words (DATASET_HELP):
# - score, report and disagreements work on one dataset at a time: a scoring run records one
#   dataset, and an accuracy over IMDB and Steam reviews together would measure neither. They
#   take DEFAULT_DATASET, as they always did (`asaas score --model finetuned` scores IMDB on a
#   database that also holds SST-2 or Steam);
# - events, alerts, responsiveness and effects work per product, and a product's reviews are in
#   one dataset, so they take every dataset; timeline takes the one holding the product's
#   reviews (and asks for --dataset when they are in several).
# "Every dataset" for score and report would change what `asaas score` and `asaas report` do on
# every database with a second dataset, and "imdb" for the product commands would find no
# product; so the omitted case stays per kind of command, said once, here.
DATASET_HELP = ("Only reviews of this dataset (e.g. imdb, steam). Omitted: imdb for score, "
                "report and disagreements, which compare on one dataset; every dataset for the "
                "product commands (timeline: the one holding the product's reviews).")

#: The split that score, report and disagreements read when none is given.
DEFAULT_SPLIT = "test"

#: Seconds between progress lines when the output is not a terminal (cron logs, job runs): a
#: terminal gets a live line instead. A job step may set ``progress_every_s`` (0: a line per
#: chunk of work).
DEFAULT_PROGRESS_EVERY_S = 60.0

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
    registry_key
        ``ASAAS_REGISTRY_KEY``: the key that signs model versions' registry rows and is checked
        before a version is loaded (at least 32 characters). Unset: ``registry.key`` in the
        model home, created (mode 0600) by the first registration. Every host that registers
        or scores models of a database needs the same key (see docs/security.md).
    """

    db_url: str = field(default_factory=lambda: os.environ.get("ASAAS_DB") or DEFAULT_DB_FILE)
    home: str | None = field(default_factory=lambda: os.environ.get("ASAAS_HOME") or None)
    busy_timeout_s: float = field(default_factory=lambda: _env_float("ASAAS_BUSY_TIMEOUT", 30.0))
    max_review_chars: int = field(default_factory=lambda: _env_int(
        "ASAAS_MAX_REVIEW_CHARS", DEFAULT_MAX_REVIEW_CHARS, "1000000"))
    sql_timeout_s: float = field(default_factory=lambda: _env_float("ASAAS_SQL_TIMEOUT", 60.0))
    registry_key: str | None = field(default_factory=lambda: (
        os.environ.get("ASAAS_REGISTRY_KEY") or "").strip() or None, repr=False)

    def model_home(self, db_url: str) -> Path:
        """Directory for model artifacts belonging to the database at ``db_url``."""
        if self.home:
            return Path(self.home).expanduser()
        from asaas.store.urls import duckdb_file_path

        db_file = duckdb_file_path(db_url)
        if db_file is not None:
            return db_file.resolve().parent / "asaas-home"
        return Path("~/.asaas").expanduser()


# -- embeddings and languages (issue 20) -------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingSettings:
    """Sentence embeddings (asaas.models.embeddings) and language detection.

    minilm
        ``ASAAS_MINILM``: a local folder (or Hub id) of all-MiniLM-L6-v2, the English sentence
        encoder. Default: the Hub id sentence-transformers/all-MiniLM-L6-v2.
    cache
        ``ASAAS_EMBEDDING_CACHE``: where embeddings are cached (a folder), or ``off``. Default:
        ``embeddings/`` under ASAAS_HOME.
    languages
        ``ASAAS_DETECT_LANGUAGES``: the languages ``ingest --detect-language`` chooses among,
        comma-separated ISO 639-1 codes (e.g. en,de,fr), or ``all``. Default: the 25 languages
        of Steam's reviews (asaas.ingest.language).
    """

    minilm: str | None = field(default_factory=lambda: _env_text("ASAAS_MINILM"))
    cache: str | None = field(default_factory=lambda: _env_text("ASAAS_EMBEDDING_CACHE"))
    languages: str | None = field(default_factory=lambda: _env_text("ASAAS_DETECT_LANGUAGES"))


# -- live data: fetching from the stores and notifying (issue 19) -------------------------------

#: Steam's public review endpoint; ``ASAAS_STEAM_API_URL`` points it elsewhere (a test server,
#: a caching proxy).
DEFAULT_STEAM_API_URL = "https://store.steampowered.com"


def _env_text(name: str, default: str | None = None) -> str | None:
    raw = os.environ.get(name)
    return default if raw is None or raw.strip() == "" else raw.strip()


def _env_positive(name: str, default: float, example: str) -> float:
    value = _env_float(name, default)
    if not value > 0:
        from asaas.errors import ConfigError

        raise ConfigError(f"{name}={os.environ.get(name)!r} must be above 0; e.g. {name}={example}")
    return value


@dataclass(frozen=True)
class FetchSettings:
    """How ``asaas fetch`` talks to a store's API.

    steam_api_url
        ``ASAAS_STEAM_API_URL``: base URL of Steam's ``/appreviews/<appid>`` endpoint.
        Default https://store.steampowered.com.
    rate_per_s
        ``ASAAS_FETCH_RATE``: requests per second to one host, retries included. Default 1,
        well under what Steam tolerates from one address (it answers bursts with 429).
    timeout_s
        ``ASAAS_FETCH_TIMEOUT``: seconds to connect, and between bytes of an answer. Default 30.
    attempts
        ``ASAAS_FETCH_ATTEMPTS``: tries per page (a 429, 5xx, time-out or malformed page is
        tried again) before the app's fetch stops with an error. Default 5.
    backoff_s
        ``ASAAS_FETCH_BACKOFF``: the first wait before a retry; each later wait may double, with
        full jitter, up to 60 s. Default 2.
    max_wait_s
        ``ASAAS_FETCH_MAX_WAIT``: the longest ``Retry-After`` honoured; a server asking for more
        ends the fetch with an error instead of a step that sleeps for an hour. Default 300.
    overlap
        ``ASAAS_FETCH_OVERLAP``: reviews already held unchanged, in a row, that end an
        incremental fetch (the overlap with what the last fetch saw). Default 100 (one page).
    """

    steam_api_url: str = field(default_factory=lambda: _env_text(
        "ASAAS_STEAM_API_URL", DEFAULT_STEAM_API_URL) or DEFAULT_STEAM_API_URL)
    rate_per_s: float = field(default_factory=lambda: _env_positive("ASAAS_FETCH_RATE", 1.0, "1"))
    timeout_s: float = field(default_factory=lambda: _env_positive(
        "ASAAS_FETCH_TIMEOUT", 30.0, "30"))
    attempts: int = field(default_factory=lambda: _env_int("ASAAS_FETCH_ATTEMPTS", 5, "5"))
    backoff_s: float = field(default_factory=lambda: _env_positive(
        "ASAAS_FETCH_BACKOFF", 2.0, "2"))
    max_wait_s: float = field(default_factory=lambda: _env_positive(
        "ASAAS_FETCH_MAX_WAIT", 300.0, "300"))
    overlap: int = field(default_factory=lambda: _env_int("ASAAS_FETCH_OVERLAP", 100, "100"))


@dataclass(frozen=True)
class NotifySettings:
    """Where ``asaas notify`` sends new alerts. Secrets come from the environment only (never an
    option, so they stay out of shell history, job files and process lists).

    webhook_url
        ``ASAAS_WEBHOOK_URL``: a Slack-compatible incoming webhook (its path is the secret) or
        any URL that accepts a JSON POST. Unset: no webhook.
    webhook_format
        ``ASAAS_WEBHOOK_FORMAT``: ``slack`` (``{"text": ..., "blocks": [...]}``) or ``json``
        (the alert as one JSON object). Default slack.
    smtp_host, smtp_port, smtp_security
        ``ASAAS_SMTP_HOST`` (unset: no mail), ``ASAAS_SMTP_PORT`` (default 587, or 465 with
        ssl), ``ASAAS_SMTP_SECURITY``: ``starttls`` (default), ``ssl`` or ``none`` (only for a
        relay on this machine).
    smtp_user, smtp_password
        ``ASAAS_SMTP_USER`` and ``ASAAS_SMTP_PASSWORD``: the login, when the server wants one.
    mail_from, mail_to
        ``ASAAS_MAIL_FROM`` and ``ASAAS_MAIL_TO`` (comma-separated addresses).
    timeout_s, attempts
        ``ASAAS_NOTIFY_TIMEOUT`` (seconds per delivery attempt, default 10) and
        ``ASAAS_NOTIFY_ATTEMPTS`` (tries per delivery in one run, default 3; a delivery that
        still fails stays unsent and is tried again by the next run).
    """

    webhook_url: str | None = field(default_factory=lambda: _env_text("ASAAS_WEBHOOK_URL"))
    webhook_format: str = field(default_factory=lambda: (_env_text(
        "ASAAS_WEBHOOK_FORMAT", "slack") or "slack").lower())
    smtp_host: str | None = field(default_factory=lambda: _env_text("ASAAS_SMTP_HOST"))
    smtp_port: int | None = field(default_factory=lambda: (
        _env_int("ASAAS_SMTP_PORT", 1, "587") if _env_text("ASAAS_SMTP_PORT") else None))
    smtp_security: str = field(default_factory=lambda: (_env_text(
        "ASAAS_SMTP_SECURITY", "starttls") or "starttls").lower())
    smtp_user: str | None = field(default_factory=lambda: _env_text("ASAAS_SMTP_USER"))
    smtp_password: str | None = field(default_factory=lambda: os.environ.get(
        "ASAAS_SMTP_PASSWORD") or None)
    mail_from: str | None = field(default_factory=lambda: _env_text("ASAAS_MAIL_FROM"))
    mail_to: str | None = field(default_factory=lambda: _env_text("ASAAS_MAIL_TO"))
    timeout_s: float = field(default_factory=lambda: _env_positive(
        "ASAAS_NOTIFY_TIMEOUT", 10.0, "10"))
    attempts: int = field(default_factory=lambda: _env_int("ASAAS_NOTIFY_ATTEMPTS", 3, "3"))
