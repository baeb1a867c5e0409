"""Reports: read the SQL views and format them (table, markdown, csv, json).

Every number comes from the views in ``sql/``; this module only selects and formats, so what
``asaas report`` prints is what anyone gets from ``SELECT * FROM metrics`` in any SQL client.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from asaas.errors import AsaasError
from asaas.models.registry import model_names
from asaas.store import Store
from asaas.store.sql import text_query

FORMATS = ("table", "markdown", "csv", "json")

#: Columns of the headline report, in order.
REPORT_COLUMNS = (
    "model", "version", "split", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
    "precision", "recall", "f1", "specificity", "balanced_accuracy", "roc_auc", "roc_auc_ci_low",
    "roc_auc_ci_high", "average_precision", "brier_score", "expected_calibration_error",
    "tn", "fp", "fn", "tp", "reason",
)


@dataclass
class Table:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    def select(self, columns: Sequence[str]) -> Table:
        """The same rows with only ``columns``, in that order."""
        idx = [self.columns.index(c) for c in columns]
        return Table(list(columns), [tuple(r[i] for i in idx) for r in self.rows])


def _check_models(store: Store, models: Sequence[str]) -> None:
    known = set(model_names(store))
    unknown = [m for m in models if m not in known]
    if unknown:
        have = ", ".join(sorted(known)) or "none yet"
        raise AsaasError(f"unknown model {', '.join(unknown)} (models: {have})")


def metrics_report(store: Store, *, split: str | None = "test", dataset: str = "imdb",
                   models: Sequence[str] = (), latest: bool = False) -> Table:
    """Headline metrics per model version from the ``metrics`` view."""
    if models:
        _check_models(store, models)
    where, params = ["(dataset = :dataset OR dataset IS NULL)"], {"dataset": dataset}
    if split and split != "all":
        where.append("(split = :split OR split IS NULL)")
        params["split"] = split
    if models:
        where.append("model IN :models")
        params["models"] = list(models)
    if latest:
        where.append("is_latest")
    sql = (f"SELECT {', '.join(REPORT_COLUMNS)} FROM metrics WHERE {' AND '.join(where)} "
           "ORDER BY split, accuracy DESC NULLS LAST, model, version")
    return query(store, sql, params)


def disagreements_report(store: Store, model_a: str, model_b: str, *, split: str | None = "test",
                         dataset: str = "imdb", limit: int = 20, wrong_only: bool = False
                         ) -> Table:
    """Reviews where the latest versions (or NAME:VERSION) of two models disagree."""
    (name_a, ver_a), (name_b, ver_b) = _model_ref(model_a), _model_ref(model_b)
    _check_models(store, [name_a, name_b])
    params: dict[str, Any] = {"a": name_a, "b": name_b, "dataset": dataset, "limit": limit}
    where = ["model_a = :a", "model_b = :b", "dataset = :dataset"]
    for side, ver in (("a", ver_a), ("b", ver_b)):
        if ver is None:
            where.append(f"version_{side} = (SELECT MAX(version) FROM model_version_names "
                         f"WHERE model = :{side})")
        else:
            where.append(f"version_{side} = :v{side}")
            params[f"v{side}"] = ver
    if split and split != "all":
        where.append("split = :split")
        params["split"] = split
    if wrong_only:
        where.append("y_true IS NOT NULL AND label_a <> y_true")
    sql = ("SELECT review_id, split, y_true, model_label_a, label_a, score_a, model_label_b, "
           "label_b, score_b, right_model, snippet FROM disagreements "
           f"WHERE {' AND '.join(where)} "
           "ORDER BY ABS(score_a - score_b) DESC, review_id LIMIT :limit")
    return query(store, sql, params)


def _model_ref(ref: str) -> tuple[str, int | None]:
    name, _, version = ref.partition(":")
    if not version:
        return name, None
    try:
        return name, int(version)
    except ValueError:
        raise AsaasError(f"bad model reference {ref!r}; use NAME or NAME:VERSION") from None


def query(store: Store, sql: str, params: dict[str, Any] | None = None) -> Table:
    """Run one read-only statement; SQL errors become one-line messages."""
    with store.read_transaction() as conn:
        try:
            result = conn.execute(text_query(sql, params or {}), params or {})
        except sa.exc.DBAPIError as exc:
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise AsaasError(f"SQL error: {first}") from None
        if not result.returns_rows:
            return Table([], [])
        # PostgreSQL computes the views' ratios in NUMERIC: report them as floats, as DuckDB does.
        return Table(list(result.keys()),
                     [tuple(float(v) if isinstance(v, Decimal) else v for v in r)
                      for r in result.fetchall()])


# -- formatting ----------------------------------------------------------------------------------


def format_cell(value: Any) -> str:
    """One value as text: floats to 4 decimals, None empty, dates ISO."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.4f}"
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value).replace("\n", " ")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def format_table(table: Table, fmt: str = "table", *, max_width: int = 80) -> str:
    if fmt not in FORMATS:
        raise AsaasError(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps([{k: _jsonable(v) for k, v in d.items()} for d in table.dicts()],
                          indent=2, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(table.columns)
        writer.writerows([["" if v is None else v for v in r] for r in table.rows])
        return buf.getvalue().rstrip("\n")
    cells = [[format_cell(v)[:max_width] for v in r] for r in table.rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(table.columns) + " |",
                 "|" + "|".join("---" for _ in table.columns) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(table.columns)]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in table.rows)
               for i in range(len(table.columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(table.columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)
