"""SQL views: install ``sql/*.sql`` (one view per numbered file, in file-name order) into a
database.

The views are SQL that DuckDB runs, kept to what PostgreSQL also accepts, so anyone can query
them from the ``duckdb`` CLI or any SQL client. Formulas several views share (the Wilson and
normal intervals, the z of a 95% interval) are Jinja macros in ``sql/macros.sql``, expanded here
when the views are installed: each is written once, and the database holds plain SQL. Every
migration drops the views first and rebuilds them when the schema reaches head
(``migrations/env.py``), so a new database, ``asaas db upgrade`` and plain ``alembic upgrade
head`` all end with current views; ``asaas views install`` rebuilds them on their own.
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from asaas.errors import DatabaseError
from asaas.store import Store


def _package_dir(package: str) -> Path:
    """The folder of a data package that setup.py ships (``asaas.sql``, ``asaas.migrations``):
    the checkout's top-level folder in an editable install, site-packages in a wheel install."""
    from importlib.resources import files

    return Path(str(files(package)))


SQL_DIR = _package_dir("asaas.sql")
_VIEW_NAME = re.compile(r"CREATE\s+OR\s+REPLACE\s+VIEW\s+(\w+)", re.IGNORECASE)


def view_files() -> list[Path]:
    """The view definitions (``NNN_name.sql``), in install order; ``macros.sql`` is not one."""
    files = sorted(SQL_DIR.glob("[0-9]*.sql"))
    if not files:
        raise DatabaseError(f"no view definitions found in {SQL_DIR}; reinstall asaas "
                            "(`pip install asaas` or `pip install -e .` in a checkout)")
    return files


def _views() -> list[tuple[str, str]]:
    """(name, SQL with the macros expanded) of every view, in install order."""
    import jinja2

    # SQL, not HTML: nothing to escape. StrictUndefined: a misspelt macro fails the install.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(SQL_DIR), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    views = []
    for path in view_files():
        text = env.get_template(path.name).render()
        match = _VIEW_NAME.search(text)
        views.append((match.group(1) if match else path.stem, text))
    return views


def view_names() -> list[str]:
    return [name for name, _ in _views()]


def _drop(conn: sa.Connection, names: list[str]) -> None:
    for name in reversed(names):  # dependents first
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {name}")


def drop_views(conn: sa.Connection) -> None:
    """Drop asaas' views, dependents first. PostgreSQL refuses to drop or alter a table that a
    view reads, so migrations run with the views gone (they are rebuilt from sql/ at head)."""
    _drop(conn, view_names())


def create_views(conn: sa.Connection) -> list[str]:
    """(Re)create every view on ``conn``; returns their names in install order."""
    views = _views()
    # Dropping first matters on PostgreSQL, whose CREATE OR REPLACE cannot change a view's
    # columns; DuckDB would replace them in place.
    _drop(conn, [name for name, _ in views])
    for _, text in views:
        if conn.dialect.paramstyle in ("format", "pyformat"):
            text = text.replace("%", "%%")  # psycopg reads a bare % as a placeholder
        conn.exec_driver_sql(text)
    from asaas.store.sandbox import grant_reader

    names = [name for name, _ in views]
    grant_reader(conn, names)  # `asaas sql`'s role: a view created again lost its grants
    return names


def install_views(store: Store) -> list[str]:
    """(Re)create every view in one transaction; returns their names in install order."""
    with store.transaction() as conn:
        return create_views(conn)
