"""Shared pieces of the command line: the ``asaas`` group, error handling and common options.

No logic lives in the CLI. Library errors (``AsaasError``) become one-line messages with exit
code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from asaas import __version__
from asaas.errors import AsaasError
from asaas.settings import DATASET_HELP, Settings


#: Control characters in error messages: ESC sequences, line breaks, bidirectional overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


#: DuckDB files the running command created (``open_db``): a command that fails removes them
#: again, so a mistyped --db never leaves a new, empty database behind.
_created: list[Path] = []


def _remove_created(mark: int) -> None:
    for path in _created[mark:]:
        for leftover in (path, path.with_name(path.name + ".wal")):
            leftover.unlink(missing_ok=True)


def fail_cleanly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's own errors into click's one-line ``Error: ...`` output; a database
    file the failing command created is removed."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mark = len(_created)
        try:
            return func(*args, **kwargs)
        except AsaasError as exc:
            from asaas.store.urls import mask_secrets

            _remove_created(mark)
            # Messages may quote a database URL or a driver's error: never its password. They
            # may quote data too (a product's name, a server's answer, a file name): its
            # control characters are shown, not sent to the terminal, and it stays one line.
            raise click.ClickException(_CONTROL.sub(
                lambda m: repr(m.group())[1:-1], mask_secrets(str(exc)))) from None
        except (Exception, KeyboardInterrupt) as exc:
            if not isinstance(exc, click.exceptions.Exit):
                _remove_created(mark)
            raise
        finally:
            del _created[mark:]

    return wrapper


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--db URL`` on every command that touches the database (default: ASAAS_DB or
    ./asaas.duckdb)."""
    return click.option(
        "--db",
        "db_url",
        metavar="URL",
        default=None,
        help="Database: a SQLAlchemy URL or a DuckDB file path "
        "[env ASAAS_DB; default ./asaas.duckdb].",
    )(func)


def dataset_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--dataset NAME`` on every command that reads reviews: one meaning and the same help
    everywhere (settings.DATASET_HELP). Omitted, the command's options decide (None here)."""
    return click.option("--dataset", default=None, metavar="NAME", help=DATASET_HELP)(func)


def open_db(db_url: str | None, *, check_schema: bool = True, read_only: bool = False) -> Any:
    """The store for ``--db`` (or ASAAS_DB); a brand-new database is created at head (and
    removed again if the command fails: ``fail_cleanly``).

    Read commands pass ``read_only``: a missing database or one that is not asaas' is then a
    one-line error, never created or given asaas' tables, and nothing is written.
    """
    from asaas.store import open_store
    from asaas.store.urls import duckdb_file_path, normalize_url

    settings = Settings()
    url = db_url or settings.db_url
    path = None if read_only else duckdb_file_path(normalize_url(url))
    new = path is not None and not path.exists()
    store = open_store(url, busy_timeout_s=settings.busy_timeout_s, check_schema=check_schema,
                       read_only=read_only)
    if new and path.exists():
        _created.append(path)
    return store


def model_home(store: Any) -> Path:
    """Where model artifacts of this database live (ASAAS_HOME)."""
    return Settings().model_home(store.url)


def split_list(values: tuple[str, ...]) -> list[str] | None:
    """``--split a,b --split c`` -> ["a", "b", "c"]; nothing -> None."""
    out = [s.strip() for v in values for s in v.split(",") if s.strip()]
    return out or None


def format_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--format table|markdown|csv|csv-raw|json`` for commands that print a table."""
    from asaas.tables import CSV_HELP, FORMATS

    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True, help=f"Output format ({CSV_HELP})")(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="asaas")
def cli() -> None:
    """asaas: score customer reviews for sentiment in batch and keep every prediction in SQL.

    Typical flow: `asaas ingest` -> `asaas train` -> `asaas score` -> `asaas report`.
    The database defaults to ./asaas.duckdb; use --db or ASAAS_DB for another.
    """

