"""Alembic wiring: the configuration is built in code, never read from the user's directory.

The migration scripts live in ``migrations/`` at the top of the repository and ship inside the
package as ``asaas.migrations`` (setup.py), so wheel installs find them too. The connection is
handed to ``migrations/env.py`` so upgrades run inside the store's own transaction.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from asaas.errors import SchemaError



class DuckDBImpl(DefaultImpl):
    """Teach Alembic about the DuckDB dialect (duckdb_engine ships none); defining the class
    registers it, so this module must be imported before any migration context is built."""

    __dialect__ = "duckdb"
    transactional_ddl = True


def _migrations_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("asaas.migrations")))


MIGRATIONS_DIR = _migrations_dir()


def alembic_config(connection: sa.Connection | None = None) -> Config:
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise SchemaError(
            f"migration scripts not found at {MIGRATIONS_DIR}; reinstall asaas "
            "(`pip install asaas` or `pip install -e .` in a checkout)"
        )
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise SchemaError(f"migrations have {len(heads)} heads ({heads}); merge them first")
    return heads[0]


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: sa.Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)
