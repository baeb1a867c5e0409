"""Reports: model metrics, paired comparisons and disagreements read from the SQL views into
result tables (``asaas.tables`` prints them; ``asaas.report_page`` draws them), and the query
of ``asaas sql``.

Every number comes from the views in ``sql/``; this module only selects, so what ``asaas
report`` prints is what anyone gets from ``SELECT * FROM metrics`` in any SQL client.

A report is built once (``build_report``: the metrics with their notes, the paired
comparisons) and rendered per format (``format_report`` for table, markdown, csv and json;
``asaas.report_page`` for html), by `asaas report` and a job's report step alike, so no format
drops a warning or the pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asaas.errors import AsaasError
from asaas.models.registry import model_names
from asaas.settings import DEFAULT_DATASET
from asaas.store import Store
from asaas.tables import Table, float_rows, format_table, json_rows, query

if TYPE_CHECKING:
    from asaas.options import ReportOptions

#: Columns of the headline report, in order.
REPORT_COLUMNS = (
    "model", "version", "scoring", "dataset", "split", "n", "n_labelled", "coverage",
    "complete", "trained_on_split", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
    "precision", "recall", "f1", "specificity", "balanced_accuracy", "balanced_accuracy_ci_low",
    "balanced_accuracy_ci_high", "roc_auc", "roc_auc_ci_low", "roc_auc_ci_high",
    "average_precision", "brier_score", "expected_calibration_error", "tn", "fp", "fn", "tp",
    "reason", "model_version_id",
)

#: Columns of the metric table in table, markdown and html without --full (csv and json: all).
COMPACT_COLUMNS = ("model", "version", "scoring", "split", "n", "coverage", "accuracy",
                   "accuracy_ci_low", "accuracy_ci_high", "balanced_accuracy", "f1", "roc_auc",
                   "roc_auc_ci_low", "roc_auc_ci_high", "brier_score", "note")

#: What the paired comparison below the metric table is, in every format that shows both.
PAIRS_HEADING = ("paired on the reviews both versions scored (accuracy on those only; b: only "
                 "A right, c: only B right; McNemar p-value)")

#: Columns of the paired comparison: every two versions on the reviews both have scored.
PAIR_COLUMNS = ("model_label_a", "model_label_b", "split", "n_shared", "accuracy_a",
                "accuracy_b", "b", "c", "p_value")


def _check_models(store: Store, models: Sequence[str]) -> None:
    known = set(model_names(store))
    unknown = [m for m in models if m not in known]
    if unknown:
        have = ", ".join(sorted(known)) or "none yet"
        raise AsaasError(f"unknown model {', '.join(unknown)} (models: {have})")


def version_filter(store: Store, where: list[str], params: dict[str, Any], *,
                   split: str | None, models: Sequence[str], latest: bool,
                   split_sql: str = "split = :split") -> tuple[list[str], dict[str, Any]]:
    """``where``/``params`` narrowed to a split (None or "all": every split), some models
    (checked to exist first) and the latest version of each, as the metric views are read."""
    if models:
        _check_models(store, models)
    if split and split != "all":
        where.append(split_sql)
        params["split"] = split
    if models:
        where.append("model IN :models")
        params["models"] = list(models)
    if latest:
        where.append("is_latest")
    return where, params


def metrics_report(store: Store, *, split: str | None = "test", dataset: str = DEFAULT_DATASET,
                   models: Sequence[str] = (), latest: bool = False) -> Table:
    """Headline metrics per model version from the ``metrics`` view."""
    where, params = version_filter(store, ["(dataset = :dataset OR dataset IS NULL)"],
                                   {"dataset": dataset}, split=split, models=models,
                                   latest=latest, split_sql="(split = :split OR split IS NULL)")
    sql = (f"SELECT {', '.join(REPORT_COLUMNS)} FROM metrics WHERE {' AND '.join(where)} "
           "ORDER BY split, accuracy DESC NULLS LAST, model, version")
    return query(store, sql, params)


def notes(row: dict[str, Any]) -> str:
    """What a reader must know before comparing a row: a partial sample, training data, or
    why a metric is missing."""
    out = []
    if row.get("complete") is False and row.get("n_labelled"):
        out.append(f"incomplete: {row['n']:,} of {row['n_labelled']:,} scored "
                   f"({100 * (row.get('coverage') or 0):.0f}%, a pseudo-random sample)")
    if row.get("trained_on_split"):
        out.append("trained on this split: memory, not generalisation")
    if row.get("reason"):
        out.append(str(row["reason"]))
    return "; ".join(out)


def with_notes(table: Table) -> Table:
    """The table plus a ``note`` column (see ``notes``)."""
    return Table(table.columns + ["note"],
                 [r + (notes(d),) for r, d in zip(table.rows, table.dicts())])


def comparisons_report(store: Store, metrics: Table) -> Table:
    """Every two versions of ``metrics`` compared on the labelled reviews both scored: how many,
    each one's accuracy on exactly those, and McNemar's test (the ``mcnemar`` view)."""
    rows = metrics.dicts()
    ids = sorted({r["model_version_id"] for r in rows if r.get("n")})
    pairs = {(r["dataset"], r["split"]) for r in rows if r.get("n")}
    if len(ids) < 2 or not pairs:
        return Table(list(PAIR_COLUMNS), [])
    params: dict[str, Any] = {"ids": ids}
    keys = " OR ".join(f"(dataset = :d{i} AND split = :s{i})" for i in range(len(pairs)))
    for i, (dataset, split) in enumerate(sorted(pairs)):
        params[f"d{i}"], params[f"s{i}"] = dataset, split
    sql = (f"SELECT {', '.join(PAIR_COLUMNS)} FROM mcnemar WHERE model_version_id_a IN :ids "
           f"AND model_version_id_b IN :ids AND ({keys}) ORDER BY split, p_value, "
           "model_label_a, model_label_b")
    return query(store, sql, params)


@dataclass
class Report:
    """What `asaas report` and a job's report step show, in any format: every version's
    metrics with a ``note`` (incomplete, trained on the split, a metric's reason), and every
    two versions paired on the reviews both scored."""

    metrics: Table
    pairs: Table
    split: str | None
    dataset: str

    def shown(self, full: bool = False) -> Table:
        """The metric table as table, markdown and html show it (compact unless ``full``)."""
        return self.metrics if full else self.metrics.select(
            [c for c in COMPACT_COLUMNS if c in self.metrics.columns])


def build_report(store: Store, options: ReportOptions) -> Report:
    """The report for ``options`` (``asaas.options.ReportOptions``), read from the views."""
    table = metrics_report(store, **options.query())
    return Report(with_notes(table), comparisons_report(store, table), options.split,
                  options.dataset)


#: Longest cell of the report's table and markdown output (format_table cuts at 80 otherwise).
NOTE_WIDTH = 400

EMPTY_REPORT = "no predictions on labelled reviews yet: run `asaas score --model NAME`"


def format_report(report: Report, fmt: str, *, full: bool = False) -> str:
    """The report as text: table and markdown show the metric table (compact unless ``full``)
    and the pairs under it; json holds both (``{"metrics": [...], "pairs": [...]}``), every
    column; csv, one table per file, the metric rows with every column and the note."""
    import json

    if not report.metrics.rows:
        return EMPTY_REPORT
    if fmt == "json":
        return json.dumps({"metrics": json_rows(report.metrics),
                           "pairs": json_rows(report.pairs)}, indent=2, default=str)
    if fmt == "csv":
        return format_table(report.metrics, fmt)
    # Cells whole: a note cut at 80 characters would drop the very warning it carries.
    text = format_table(report.shown(full), fmt, max_width=NOTE_WIDTH)
    if report.pairs.rows:
        text += f"\n\n{PAIRS_HEADING}:\n" + format_table(report.pairs, fmt, max_width=NOTE_WIDTH)
    return text


def disagreements_report(store: Store, model_a: str, model_b: str, *, split: str | None = "test",
                         dataset: str = DEFAULT_DATASET, limit: int = 20, wrong_only: bool = False
                         ) -> tuple[Table, int]:
    """Reviews where two versions (NAME for the latest, or NAME:VERSION) disagree, and how many
    reviews both have scored (the disagreements are among those). An unknown model or version
    is an error, not an empty answer."""
    from asaas.models.registry import resolve_ref

    if limit < 1:
        raise AsaasError(f"--limit must be at least 1 (got {limit})")
    mv_a, mv_b = resolve_ref(store, model_a), resolve_ref(store, model_b)
    params: dict[str, Any] = {"a": mv_a.id, "b": mv_b.id, "dataset": dataset, "limit": limit}
    where = ["model_version_id_a = :a", "model_version_id_b = :b", "dataset = :dataset"]
    split_sql = ""
    if split and split != "all":
        where.append("split = :split")
        split_sql = " AND r.split = :split"
        params["split"] = split
    if wrong_only:
        where.append("y_true IS NOT NULL AND label_a <> y_true")
    sql = ("SELECT review_id, split, y_true, model_label_a, label_a, score_a, model_label_b, "
           "label_b, score_b, right_model, snippet FROM disagreements "
           f"WHERE {' AND '.join(where)} "
           "ORDER BY ABS(score_a - score_b) DESC, review_id LIMIT :limit")
    shared = query(store, "SELECT count(*) AS n FROM predictions pa JOIN predictions pb "
                   "ON pb.review_id = pa.review_id AND pb.model_version_id = :b "
                   "JOIN reviews r ON r.id = pa.review_id "
                   f"WHERE pa.model_version_id = :a AND r.dataset = :dataset{split_sql}",
                   {k: v for k, v in params.items() if k != "limit"})
    return query(store, sql, params), int(shared.rows[0][0])


def run_user_sql(store: Store, sql: str, *, timeout_s: float | None = 60.0,
                 max_rows: int | None = 10_000) -> tuple[Table, bool]:
    """Run the text of ``asaas sql``: exactly one statement made of parts known to be harmless
    (``readonly.check_read_only``), in a session that cannot write, reach files or call admin
    functions whatever the text says (``asaas.store.sandbox``), stopped after ``timeout_s``
    seconds and ``max_rows`` rows (None or 0: no limit). Returns the table and whether rows were
    left out at ``max_rows``.

    The text goes to the driver as it is, without SQLAlchemy's ``:name`` parameters or
    psycopg's ``%`` placeholders, so ``':word'`` and ``'100%'`` in a string stay text.
    """
    from asaas.store.readonly import check_read_only
    from asaas.store.sandbox import run_statement

    statement = check_read_only(sql, store.dialect)
    result = run_statement(store, statement, timeout_s=timeout_s, max_rows=max_rows)
    return Table(result.columns, float_rows(result.rows)), result.truncated
