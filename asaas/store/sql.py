"""Textual SQL with bound parameters, including lists for ``IN :name``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def text_query(sql: str, params: dict[str, Any]) -> sa.TextClause:
    """``sa.text(sql)`` whose list-valued parameters expand, so ``x IN :names`` takes a list."""
    query = sa.text(sql)
    expanding = [sa.bindparam(k, expanding=True) for k, v in params.items()
                 if isinstance(v, (list, tuple))]
    return query.bindparams(*expanding) if expanding else query
