"""Database URLs: accept a plain file path as shorthand for a DuckDB file."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from asaas.errors import ConfigError


def normalize_url(url_or_path: str) -> str:
    """Return a SQLAlchemy URL; ``reviews.duckdb`` becomes ``duckdb:///reviews.duckdb``."""
    text = url_or_path.strip()
    if not text:
        raise ConfigError("the database URL is empty; pass --db URL or set ASAAS_DB")
    if "://" not in text:
        return f"duckdb:///{text}"
    try:
        url = sa.engine.make_url(text)
    except Exception:  # SQLAlchemy raises ArgumentError for malformed URLs
        raise ConfigError(
            f"cannot parse database URL {redact(text)}; use e.g. duckdb:///asaas.duckdb "
            "or postgresql://user@host/db"
        ) from None
    if url.drivername in ("postgresql", "postgres"):
        # SQLAlchemy's default PostgreSQL driver is psycopg2; asaas ships psycopg 3 (COPY).
        return "postgresql+psycopg" + text[text.index("://"):]
    return text


def duckdb_file_path(url: str) -> Path | None:
    """The file behind a DuckDB URL, or None for in-memory and non-DuckDB databases."""
    parsed = sa.engine.make_url(normalize_url(url))
    if parsed.get_backend_name() != "duckdb":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith(":memory:"):
        return None
    return Path(database)


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs (also when it cannot be
    parsed: a URL with a bad port is exactly the one that ends up in an error message)."""
    try:
        return mask_secrets(sa.engine.make_url(url).render_as_string(hide_password=True))
    except Exception:
        return mask_secrets(url)


# scheme://user:PASSWORD@host  and libpq's  password=PASSWORD  (keyword/value strings).
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)([^\s/]*)(@)")
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s;&]+)", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """Any text (an error, a log line, a table cell) with passwords replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + "***" + m.group(3), text)
    return _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + "***", text)
