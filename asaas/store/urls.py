"""Database URLs: a SQLAlchemy URL, or a plain file path as shorthand for a DuckDB file.

Anything else is refused before it is used, without being echoed: a libpq keyword string
(``host=... password=...``) or a URL with a mistyped ``://`` would otherwise become the name of
a new DuckDB file (password included), and a URL that does not parse is the one that ends up
in an error message or a cron log. Passwords are masked (``mask_secrets``) in every message
that quotes a URL, also when it cannot be parsed.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from asaas.errors import ConfigError

EXAMPLES = "e.g. postgresql://USER:***@HOST:5432/DBNAME or ./asaas.duckdb"

#: ``key=value`` as in libpq's "host=db dbname=asaas password=..." connection strings.
_KEYWORD_STRING = re.compile(r"(?:\A|\s)[A-Za-z_]+\s*=")
#: ``scheme:`` without ``//``: a URL with a mistyped separator (postgresql:/..., postgres:...).
_SCHEME_PREFIX = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]+:")
#: ``user:password@`` inside one path segment: a URL without its scheme (postgresql//...).
_USERINFO = re.compile(r"[^/]*:[^/]*@")


def normalize_url(url_or_path: str) -> str:
    """Return a SQLAlchemy URL; ``reviews.duckdb`` becomes ``duckdb:///reviews.duckdb``.

    Refuses (ConfigError, never quoting a password) what is neither a URL nor a file path.
    """
    text = url_or_path.strip()
    if not text:
        raise ConfigError("the database URL is empty; pass --db URL or set ASAAS_DB")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ConfigError("the database URL or path (--db / ASAAS_DB) holds a control character "
                          "(a newline?); remove it")
    if "://" not in text:
        _check_path(text)
        return f"duckdb:///{text}"
    try:
        url = sa.engine.make_url(text)
    except Exception:  # SQLAlchemy raises ArgumentError or ValueError for malformed URLs
        raise ConfigError(
            f"cannot parse database URL {mask_secrets(text)}: check the port and percent-encode "
            f"reserved characters in the user name and password (@ %40, / %2F, : %3A, space "
            f"%20); {EXAMPLES}") from None
    if "@" in (url.host or "") or "@" in (url.database or ""):
        # A password with an unencoded '@': SQLAlchemy split it there, and the rest of the
        # password would be shown as the host or database name.
        raise ConfigError(
            f"database URL {mask_secrets(text)} has an '@' after the user and password: "
            "percent-encode an '@' in the password (or database name) as %40")
    if url.drivername in ("postgresql", "postgres"):
        # SQLAlchemy's default PostgreSQL driver is psycopg2; asaas ships psycopg 3 (COPY).
        return "postgresql+psycopg" + text[text.index("://"):]
    return text


def _check_path(text: str) -> None:
    """A DuckDB file path, or a refusal naming the likely mistake (never quoting the text)."""
    if _KEYWORD_STRING.search(text):
        raise ConfigError(
            "the database setting (--db / ASAAS_DB) looks like a libpq connection string "
            "(host=... dbname=...), which asaas does not read: write it as a URL, "
            "postgresql://USER:***@HOST:5432/DBNAME, or give a DuckDB file path")
    if _SCHEME_PREFIX.match(text):
        raise ConfigError(
            "the database setting (--db / ASAAS_DB) starts like a URL but has no '://' after "
            f"its scheme; write e.g. postgresql://USER:***@HOST/DBNAME (a DuckDB file "
            "whose name holds a ':' is ./NAME)")
    if _USERINFO.search(text):
        raise ConfigError(
            "the database setting (--db / ASAAS_DB) looks like a URL without its scheme "
            "(USER:***@HOST); write e.g. postgresql://USER:***@HOST/DBNAME")


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


#: ``scheme://user:`` and its mistyped forms (``scheme:/user:``, ``scheme//user:``,
#: ``scheme:user:``), where a password may follow.
_SCHEME_USER = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*(?::/{0,2}|//)[^\s:/@]*:")
#: An '@' that a host (or a Unix-socket URL's empty host) follows.
_AT_HOST = re.compile(r"@(?=[A-Za-z0-9\[/_%-]|\Z)")
# libpq's  password=PASSWORD  (keyword/value strings, URL query parameters, sslpassword...);
# an unquoted value with spaces (which libpq would refuse) is masked up to the next key=.
_KEYWORD_PASSWORD = re.compile(
    r"(\b\w*password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s;&]+(?:[ \t]+(?![A-Za-z_]+\s*=)[^\s;&]+)*)",
    re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """Any text (an error, a log line, a table cell) with passwords replaced by ***.

    In ``scheme://user:PASSWORD@host`` the password runs to the last '@' before a host name
    (or, failing that, to the last '@') ahead of the next URL: a password with a space, '/' or
    '@' that was not percent-encoded is masked whole (more rather than less when the text is
    ambiguous)."""
    out, pos = [], 0
    starts = list(_SCHEME_USER.finditer(text))
    for i, match in enumerate(starts):
        segment_end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        segment = text[match.end():segment_end]
        hosts = list(_AT_HOST.finditer(segment))
        at = match.end() + hosts[-1].start() if hosts else text.rfind("@", match.end(),
                                                                         segment_end)
        if at == -1:
            continue  # host:port, no password
        out.append(text[pos:match.end()] + "***")
        pos = at
    out.append(text[pos:])
    return _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + "***", "".join(out))
