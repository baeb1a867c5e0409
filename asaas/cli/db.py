"""`asaas db`: create, inspect and upgrade the schema."""

from __future__ import annotations

import click

from asaas.cli.base import cli, db_option, fail_cleanly, open_db


@cli.group()
def db() -> None:
    """Create, inspect and upgrade the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@db_option
@fail_cleanly
def db_upgrade(revision: str, db_url: str | None) -> None:
    """Upgrade the database schema to the latest revision (creates a new database)."""
    from asaas.store import migrate
    from asaas.views import view_names

    store = open_db(db_url, check_schema=False)
    before, after = store.upgrade(revision)  # drops the views, migrates, rebuilds them at head
    if before == after:
        click.echo(f"database already at revision {after}")
    else:
        click.echo(f"upgraded database from {before or 'empty'} to {after}")
    if after == migrate.head_revision():
        click.echo(f"installed {len(view_names())} views from sql/")


@db.command("current")
@db_option
@fail_cleanly
def db_current(db_url: str | None) -> None:
    """Show the database's schema revision and whether it is the latest."""
    from asaas.store import migrate
    from asaas.store.urls import redact

    # Looking must not create: read-only, and a missing DuckDB file is reported as such.
    store = open_db(db_url, check_schema=False, read_only=True)
    head = migrate.head_revision()
    if store.db_file is not None and not store.db_file.exists():
        click.echo(f"{redact(store.url)}: no database file yet (head {head}) - created at head "
                   "by the first command that writes, or `asaas db upgrade`")
        return
    current = store.current_revision()
    state = "up to date" if current == head else (
        "empty: created at head on first use" if current is None
        else "behind: run `asaas db upgrade`"
    )
    click.echo(f"{redact(store.url)}: revision {current or 'none'} (head {head}) - {state}")
