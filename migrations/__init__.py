"""Alembic migrations (env.py, versions/). This file only makes the folder ship inside the
package as ``asaas.migrations`` (see setup.py); Alembic loads the scripts by path."""
