"""Result tables: what a read query returns and how commands print it.

A ``Table`` is column names and rows. ``query`` fills one from a read statement (on a Store or
an open connection); ``format_table`` prints it as an aligned table, markdown, csv or json,
and is the one place where asaas writes CSV (``csv`` neutralises cells a spreadsheet would run
as a formula; ``csv-raw`` writes them as stored). Reports, timelines, pages and the CLI all
build on this module; it imports nothing of asaas but the errors at load time, so anything (the
store included) may import it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from asaas.errors import AsaasError

if TYPE_CHECKING:
    from asaas.store import Store

FORMATS = ("table", "markdown", "csv", "csv-raw", "json")

#: What every --format option says about the two CSVs.
CSV_HELP = ("csv: a cell starting with =, +, -, @, a tab or a line break gets a leading ' so "
            "that spreadsheets show it as text instead of running it as a formula (numbers "
            "stay numbers); csv-raw: every cell exactly as stored, for programs.")


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


def to_float(value: Any) -> Any:
    """A NUMERIC (Decimal) value as a float, anything else as it is: PostgreSQL computes the
    views' ratios in NUMERIC, DuckDB in doubles, and both must read the same."""
    return float(value) if isinstance(value, Decimal) else value


def float_rows(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows with every Decimal turned into a float (``to_float``)."""
    return [tuple(to_float(v) for v in r) for r in rows]


def query(src: Store | sa.Connection, sql: str, params: dict[str, Any] | None = None) -> Table:
    """One read statement on ``src``: a Store (in a read transaction of its own) or an open
    connection (several queries in one transaction: on DuckDB each transaction reopens the file,
    tens of milliseconds apiece). SQL errors become one-line messages."""
    if not isinstance(src, sa.Connection):
        with src.read_transaction() as conn:
            return query(conn, sql, params)
    from asaas.store.sql import text_query  # here: the store imports this module

    params = params or {}
    try:
        result = src.execute(text_query(sql, params), params)
    except sa.exc.DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise AsaasError(f"SQL error: {first}") from None
    if not result.returns_rows:
        return Table([], [])
    return Table(list(result.keys()), float_rows(result.fetchall()))


# -- formatting ----------------------------------------------------------------------------------


def format_cell(value: Any) -> str:
    """One value as text: floats to 4 decimals (tiny ones, such as p-values, in scientific
    notation rather than a misleading 0.0000), None empty, dates ISO."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if value != 0 and abs(value) < 1e-4:
            return f"{value:.1e}"
        return f"{value:.4f}"
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return _CONTROL.sub(_shown, str(value))


#: Control characters: a review or a query's text holding ESC sequences would drive the
#: terminal it is printed to (colours, title, OSC 52 clipboard writes, a cursor moved over
#: earlier lines); a carriage return would overwrite the line, and Unicode's line separators
#: and bidirectional overrides would break or reorder it. Tables show them instead.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    if char in "\t\n\r":
        return " "
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def jsonable(value: Any) -> Any:
    """One value as JSON can hold it: dates ISO, NaN null, numpy scalars plain, and JSON kept
    in TEXT columns (job_runs.steps, model_versions.params...) nested rather than a string."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def json_rows(table: Table) -> list[dict[str, Any]]:
    """The rows as JSON objects (``jsonable`` values), for json output."""
    return [{k: jsonable(v) for k, v in d.items()} for d in table.dicts()]


#: Where a spreadsheet starts a formula (or, for tab and line breaks, where it may skip to
#: one): OWASP's list for CSV injection, plus the line feed.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")

#: A plain number written as text ("-1", "+2.5", "1e-3"): a spreadsheet reads it as that
#: number and runs nothing, so it stays as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_safe(value: Any) -> Any:
    """One CSV cell that no spreadsheet runs as a formula (``=HYPERLINK(...)``, ``@SUM(...)``,
    ``-2+3``): text starting with a formula character gets a leading single quote, which
    spreadsheets show as text. Numbers, and text that is a plain number, stay as they are."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)):  # bool is an int: True/False, harmless
        return value
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _csv_text(table: Table, cell: Any) -> str:
    """Rows ending in "\\n", and a cell holding a carriage return or a line feed quoted: with
    "\\n" as its line terminator the csv module leaves a lone "\\r" unquoted, which
    spreadsheets read as the end of a row, so the rest of the cell became a row of its own (a
    formula in its first cell included). Each row is written with "\\r\\n", which makes the
    csv module quote both, and ended with "\\n"."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    lines = []
    for row in [table.columns, *table.rows]:
        buf.seek(0)
        buf.truncate()
        writer.writerow([cell(v) for v in row])
        lines.append(buf.getvalue()[:-2])
    return "\n".join(lines)


def format_table(table: Table, fmt: str = "table", *, max_width: int = 80) -> str:
    """``table`` as text in one of FORMATS; cells are cut to ``max_width`` in table and markdown
    output (csv and json keep them whole). ``csv`` neutralises formulas (``csv_safe``), in the
    header too (a query names its columns); ``csv-raw`` does not."""
    if fmt not in FORMATS:
        raise AsaasError(f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(json_rows(table), indent=2, default=str)
    if fmt in ("csv", "csv-raw"):
        return _csv_text(table, csv_safe if fmt == "csv" else (lambda v: "" if v is None else v))
    cells = [[format_cell(v)[:max_width] for v in r] for r in table.rows]
    columns = [format_cell(c) for c in table.columns]  # a query names its columns
    if fmt == "markdown":
        lines = ["| " + " | ".join(c.replace("|", "\\|") for c in columns) + " |",
                 "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in table.rows)
               for i in range(len(table.columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)
