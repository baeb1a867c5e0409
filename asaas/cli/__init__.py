"""The ``asaas`` command line: parse options, call the library, print.

Each command group lives in its own module; importing them registers their commands on ``cli``.
"""

from __future__ import annotations

from asaas.cli import (  # noqa: F401 (registers)
    alerts, db, events, ingest, jobs, models, reports, score, timeline, train)
from asaas.cli import fetch, notify  # noqa: F401 (registers; issue 19)
from asaas.cli import offtopic, topics  # noqa: F401 (registers; issue 20)
from asaas.cli.base import cli


def main() -> None:
    cli(prog_name="asaas")


__all__ = ["cli", "main"]
