"""Alembic environment for asaas.

asaas builds the Alembic config in code (``asaas.store.migrate``) and passes an open connection in
``config.attributes["connection"]``, so migrations run inside the caller's transaction. When the
plain ``alembic`` command is used, the URL comes from asaas' settings (``ASAAS_DB``).
"""

from __future__ import annotations

from alembic import context

import asaas.store.migrate  # noqa: F401  (registers Alembic's DuckDB dialect support)


def _run(connection) -> None:
    from asaas.store.schema import metadata

    from asaas.views import create_views, drop_views

    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        # The views in sql/ read the tables and are written for the head schema: drop them so
        # that PostgreSQL lets migrations drop and alter tables, and rebuild them at head.
        drop_views(connection)
        context.run_migrations()
        if context.get_context().get_current_revision() == context.script.get_current_head():
            create_views(connection)


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from asaas.settings import Settings
    from asaas.store.store import Store

    store = Store(Settings().db_url)
    with store.engine.connect() as connection:
        _run(connection)
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("asaas migrations need a database connection; offline SQL is not supported")
run_migrations_online()
