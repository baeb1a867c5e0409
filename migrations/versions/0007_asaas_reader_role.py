"""PostgreSQL: the asaas_reader role that `asaas sql` runs user statements as.

`asaas sql` switches to this NOLOGIN role (``SET LOCAL ROLE``) inside a read-only transaction,
so what the parser misses is refused by the database itself: the role may read asaas' tables
and views (granted by ``views.create_views``, which runs at the end of every upgrade) and
nothing else, and belongs to no role that reads server files or signals other sessions.

Roles belong to the whole server, so the role is created only where it is missing, and only
by a role allowed to (a superuser or CREATEROLE); otherwise this step is skipped and `asaas sql`
names the SQL an administrator runs (asaas.store.sandbox). The connecting role is made a
member so that it may switch to it.

Run by a superuser, it also revokes from PUBLIC, in this database, the functions PostgreSQL
grants to everyone that `asaas sql` must never reach: large objects (``lo_from_bytea`` stored
objects inside a read-only transaction; ``lo_export`` writes server files), those that run a
query given as text (``query_to_xml``, ``ts_stat``...) and ``pg_terminate_backend`` /
``pg_cancel_backend`` (kept for pg_signal_backend). This is database-wide; see
asaas.store.sandbox for what it means for other roles of the database.

The role is left in place on downgrade (other databases of the server may use it); its grants
here go with the tables, and the revoked functions are granted to PUBLIC again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ROLE = "asaas_reader"

CREATE_ROLE = f"""
DO $$
BEGIN
    IF to_regrole('{ROLE}') IS NULL THEN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user
                       AND (rolsuper OR rolcreaterole)) THEN
            RAISE NOTICE USING MESSAGE = 'asaas: cannot create role {ROLE} (needs CREATEROLE); '
                || 'asaas sql will name the SQL an administrator runs';
            RETURN;
        END IF;
        BEGIN
            CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
                NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object THEN
            NULL;  -- created meanwhile by the upgrade of another database of this server
        END;
    END IF;
    IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
        BEGIN
            EXECUTE 'GRANT {ROLE} TO ' || quote_ident(current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE USING MESSAGE = 'asaas: could not make ' || current_user
                || ' a member of {ROLE}: ' || SQLERRM;
        END;
    END IF;
END $$
"""

RESTORE_PUBLIC = """
DO $$
DECLARE f regprocedure;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN;
    END IF;
    FOR f IN SELECT p.oid FROM pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace
               AND p.proname IN ({names}) LOOP
        EXECUTE 'GRANT EXECUTE ON FUNCTION ' || f::text || ' TO PUBLIC';
    END LOOP;
    FOR f IN SELECT p.oid FROM pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace
               AND p.proname IN ('pg_terminate_backend', 'pg_cancel_backend') LOOP
        EXECUTE 'REVOKE EXECUTE ON FUNCTION ' || f::text || ' FROM pg_signal_backend';
    END LOOP;
END $$
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from asaas.store.sandbox import revoke_sql

    bind.exec_driver_sql(CREATE_ROLE)
    bind.exec_driver_sql(revoke_sql())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from asaas.store.sandbox import REVOKED_FROM_PUBLIC

    # lo_import and lo_export were never PUBLIC's (superusers only by default).
    names = ", ".join(f"'{n}'" for n in REVOKED_FROM_PUBLIC if n not in ("lo_import",
                                                                         "lo_export"))
    bind.exec_driver_sql(RESTORE_PUBLIC.format(names=names))
    bind.exec_driver_sql(f"""
        DO $$
        BEGIN
            IF to_regrole('{ROLE}') IS NOT NULL THEN
                EXECUTE 'REVOKE ALL ON SCHEMA ' || quote_ident(current_schema())
                    || ' FROM {ROLE}';
            END IF;
        END $$""")
