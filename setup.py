"""Ships the top-level ``sql/`` and ``migrations/`` folders inside the package, and the HTML page
templates (``asaas/templates``).

They stay at the top of the repository (where people look for them) and install as
``asaas.sql`` and ``asaas.migrations`` in wheels and editable installs alike, so a plain
``pip install asaas-*.whl`` (a server, a Ray worker) can create and migrate its database.
Everything else is declared in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["asaas", "asaas.*"])
    + ["asaas.sql", "asaas.migrations", "asaas.migrations.versions"],
    package_dir={
        "asaas.sql": "sql",
        "asaas.migrations": "migrations",
        "asaas.migrations.versions": "migrations/versions",
    },
    package_data={
        "asaas": ["templates/*.html"],
        "asaas.sql": ["*.sql"],
        "asaas.migrations": ["script.py.mako"],
    },
)
