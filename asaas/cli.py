"""The ``asaas`` command line: parse options, call the library, print.

No logic lives here. Library errors (``AsaasError``) become one-line messages with exit code 1;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from asaas import __version__
from asaas.clock import utcnow
from asaas.errors import AsaasError
from asaas.settings import Settings


def _fail_cleanly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the project's own errors into click's one-line ``Error: ...`` output."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AsaasError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--db URL`` on every command that touches the database (default: ASAAS_DB or
    ./asaas.duckdb)."""
    return click.option(
        "--db",
        "db_url",
        metavar="URL",
        default=None,
        help="Database: a SQLAlchemy URL or a DuckDB file path "
        "[env ASAAS_DB; default ./asaas.duckdb].",
    )(func)


def _open(db_url: str | None, *, check_schema: bool = True) -> Any:
    from asaas.store import open_store

    settings = Settings()
    return open_store(
        db_url or settings.db_url,
        busy_timeout_s=settings.busy_timeout_s,
        check_schema=check_schema,
    )


def _split_list(values: tuple[str, ...]) -> list[str] | None:
    out = [s.strip() for v in values for s in v.split(",") if s.strip()]
    return out or None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="asaas")
def cli() -> None:
    """asaas: score customer reviews for sentiment in batch and keep every prediction in SQL.

    Typical flow: `asaas ingest` -> `asaas train` -> `asaas score` -> `asaas report`.
    The database defaults to ./asaas.duckdb; use --db or ASAAS_DB for another.
    """


# -- ingest --------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--source",
    metavar="PATH",
    default=None,
    help="aclImdb/ folder, aclImdb_v1.tar.gz, Parquet/CSV/TSV/JSONL file or folder, or "
    "hf:NAME for a Hub dataset. Default: the Hub dataset stanfordnlp/imdb.",
)
@click.option(
    "--split",
    "splits",
    multiple=True,
    metavar="NAME",
    help="Only these splits (repeat or comma-separate, e.g. --split train,test). Default: all.",
)
@click.option(
    "--dataset",
    default="imdb",
    show_default=True,
    help="Name that keeps these reviews apart from other datasets (e.g. sst2, steam).",
)
@click.option("--text-column", default=None, help="Column holding the review text "
              "(default: text, review, content, sentence...).")
@click.option("--label-column", default=None, help="Column holding the 0/1/pos/neg label "
              "(default: label, sentiment).")
@click.option("--id-column", default=None, help="Column holding a unique review id "
              "(default: id, review_id; without one, ids are derived from the text).")
@click.option("--default-split", default="train", show_default=True,
              help="Split for table files with no split column whose name is not a split name.")
@db_option
@_fail_cleanly
def ingest(
    source: str | None,
    splits: tuple[str, ...],
    dataset: str,
    text_column: str | None,
    label_column: str | None,
    id_column: str | None,
    default_split: str,
    db_url: str | None,
) -> None:
    """Load reviews into the database; running it again adds only what is new."""
    from asaas.ingest import ColumnNames
    from asaas.ingest import ingest as run_ingest

    store = _open(db_url)
    report = run_ingest(
        store,
        source,
        dataset=dataset,
        splits=_split_list(splits),
        columns=ColumnNames(text=text_column, label=label_column, id=id_column),
        default_split=default_split,
    )
    by_split = ", ".join(f"{k} {v:,}" for k, v in report.inserted_by_split.items())
    click.echo(
        f"ingest {report.dataset} from {report.source}: read {report.rows_read:,} rows, "
        f"inserted {report.inserted:,}" + (f" ({by_split})" if by_split else "")
        + f", already present {report.already_present:,}, "
        f"rejected {report.rows_rejected:,} in {report.duration_s:.1f} s"
    )
    for bucket, word in ((report.skipped, "skipped"), (report.rejected, "rejected")):
        for reason, count in bucket.items():
            where = ", ".join(report.examples.get(reason, []))
            click.echo(f"  {word} {count:,}: {reason} (e.g. {where})")
    if report.inserted == 0 and report.rows_read and report.already_present:
        click.echo(f"nothing new: every valid row is already in dataset {report.dataset!r}")


# -- db ------------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Create, inspect and upgrade the database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@db_option
@_fail_cleanly
def db_upgrade(revision: str, db_url: str | None) -> None:
    """Upgrade the database schema to the latest revision (creates a new database)."""
    from asaas.store import migrate
    from asaas.views import view_names

    store = _open(db_url, check_schema=False)
    before, after = store.upgrade(revision)  # drops the views, migrates, rebuilds them at head
    if before == after:
        click.echo(f"database already at revision {after}")
    else:
        click.echo(f"upgraded database from {before or 'empty'} to {after}")
    if after == migrate.head_revision():
        click.echo(f"installed {len(view_names())} views from sql/")


@db.command("current")
@db_option
@_fail_cleanly
def db_current(db_url: str | None) -> None:
    """Show the database's schema revision and whether it is the latest."""
    from asaas.store import migrate
    from asaas.store.urls import redact

    store = _open(db_url, check_schema=False)
    current, head = store.current_revision(), migrate.head_revision()
    state = "up to date" if current == head else (
        "empty: created at head on first use" if current is None
        else "behind: run `asaas db upgrade`"
    )
    click.echo(f"{redact(store.url)}: revision {current or 'none'} (head {head}) - {state}")


# -- models --------------------------------------------------------------------------------------


@cli.group()
def models() -> None:
    """List and register models and their numbered versions."""


@models.command("list")
@db_option
@_fail_cleanly
def models_list(db_url: str | None) -> None:
    """Show every model version: kind, artifact, training data and when it was made."""
    from asaas.models.registry import list_versions

    versions = list_versions(_open(db_url))
    if not versions:
        click.echo("no models yet: `asaas train ...` or `asaas models register NAME --hf PATH`")
        return
    rows = [("model", "version", "kind", "created (UTC)", "trained on", "artifact")]
    for v in versions:
        rows.append((v.name, str(v.version), v.kind, v.created_at.strftime("%Y-%m-%d %H:%M"),
                     v.train_dataset or "-", v.artifact_uri))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])


@models.command("register")
@click.argument("name")
@click.option("--hf", "hf_ref", required=True, metavar="HUB_ID_OR_PATH",
              help="A Hugging Face sequence classifier: Hub id or local save_pretrained folder.")
@click.option("--positive-label", default=None, metavar="LABEL",
              help="Which of the model's labels means positive (needed for LABEL_0/LABEL_1).")
@click.option("--description", default=None, help="Free text kept with the model.")
@db_option
@_fail_cleanly
def models_register(name: str, hf_ref: str, positive_label: str | None,
                    description: str | None, db_url: str | None) -> None:
    """Register an existing Hugging Face classifier as a new version of NAME."""
    from asaas.models.registry import register_hf

    mv = register_hf(_open(db_url), name, hf_ref, positive_label=positive_label,
                     description=description)
    click.echo(f"registered {mv.label} ({mv.kind}: {mv.artifact_uri}; "
               f"{mv.params.get('label_description')})")


# -- train --------------------------------------------------------------------------------------


def _home(store: Any) -> Path:
    return Settings().model_home(store.url)


@cli.group()
def train() -> None:
    """Train models on ingested reviews; each run registers a new numbered version."""


_skip_existing_option = click.option(
    "--skip-existing", is_flag=True,
    help="Do nothing if a version of this name was already trained with the same recipe on "
    "the same rows (for scripts and cron).")


def _baseline_command(kind: str, summary: str) -> None:
    @train.command(kind, help=summary)
    @click.option("--name", default=kind, show_default=True, help="Model name to register under.")
    @click.option("--train-dataset", default="imdb", show_default=True,
                  help="Ingested dataset whose train split to learn from.")
    @click.option("--limit", type=int, default=None,
                  help="Train on a fixed pseudo-random sample of N reviews.")
    @click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
    @_skip_existing_option
    @db_option
    @_fail_cleanly
    def command(name: str, train_dataset: str, limit: int | None, seed: int,
                skip_existing: bool, db_url: str | None) -> None:
        from asaas.training import train_baseline

        store = _open(db_url)
        started = utcnow()
        mv = train_baseline(store, kind, _home(store), name=name, dataset=train_dataset,
                            limit=limit, seed=seed, skip_existing=skip_existing)
        if mv.created_at < started:
            click.echo(f"already trained: {mv.label} has this recipe and data ({mv.artifact_uri})")
            return
        click.echo(f"trained {mv.label} on {mv.metrics['train_rows']:,} {train_dataset} reviews "
                   f"in {mv.metrics['train_seconds']:.1f} s -> {mv.artifact_uri}")


_baseline_command("bow-rf", "The notebook's baseline: bag-of-words counts + random forest.")
_baseline_command("tfidf-lr", "Strong cheap baseline: NB-scaled word+bigram TF-IDF + logistic "
                  "regression (NBSVM-style).")


@train.command("finetuned")
@click.option("--base", default="distilbert-base-uncased", show_default=True,
              metavar="HUB_ID_OR_PATH", help="Pretrained encoder to fine-tune (Hub id or folder).")
@click.option("--name", default="finetuned", show_default=True,
              help="Model name to register under (e.g. pretrained for an SST-2 model).")
@click.option("--train-dataset", default="imdb", show_default=True,
              help="Ingested labelled dataset whose train split to learn from.")
@click.option("--limit", type=int, default=None,
              help="Train on a fixed pseudo-random sample of N reviews.")
@click.option("--max-length", type=int, default=512, show_default=True,
              help="Longest input in tokens.")
@click.option("--truncation", type=click.Choice(["head", "head+tail"]), default="head",
              show_default=True, help="How long reviews are cut (as in `asaas score`).")
@click.option("--epochs", type=int, default=1, show_default=True, help="Passes over the data.")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Reviews per step.")
@click.option("--lr", type=float, default=2e-5, show_default=True, help="Peak learning rate.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where to train.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option("--checkpoint-minutes", type=float, default=10.0, show_default=True,
              help="Save a resumable checkpoint this often (and after every epoch).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run with the same settings from its checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@_skip_existing_option
@db_option
@_fail_cleanly
def train_finetuned(base: str, name: str, train_dataset: str, limit: int | None,
                    max_length: int, truncation: str, epochs: int, batch_size: int, lr: float,
                    seed: int, device: str, threads: int | None, checkpoint_minutes: float,
                    resume: bool, quiet: bool, skip_existing: bool, db_url: str | None) -> None:
    """Fine-tune a pretrained transformer encoder as a sentiment classifier."""
    from asaas.training.finetune import FinetuneOptions, finetune

    store = _open(db_url)
    opts = FinetuneOptions(base=base, name=name, train_dataset=train_dataset, limit=limit,
                           max_length=max_length, truncation=truncation, epochs=epochs,
                           batch_size=batch_size, lr=lr, seed=seed, device=device,
                           threads=threads, checkpoint_minutes=checkpoint_minutes,
                           resume=resume, skip_existing=skip_existing, progress=not quiet)
    started = utcnow()
    mv = finetune(store, _home(store), opts)
    if mv.created_at < started:
        click.echo(f"already trained: {mv.label} has this recipe and data ({mv.artifact_uri})")
        return
    click.echo(f"registered {mv.label} -> {mv.artifact_uri}")


# -- score ---------------------------------------------------------------------------------------


def _version(value: str) -> int | None:
    if value == "latest":
        return None
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter("use a version number or 'latest'") from None
    if number < 1:
        raise click.BadParameter("versions start at 1")
    return number


@cli.command()
@click.option("--model", "model_name", required=True, metavar="NAME",
              help="Registered model name (see `asaas models list`); `pretrained` registers the "
              "default Hub model on first use.")
@click.option("--version", "version", default="latest", show_default=True,
              help="Model version number, or latest.")
@click.option("--split", "splits", multiple=True, default=("test",), show_default=True,
              help="Splits to score (repeat or comma-separate), or all.")
@click.option("--dataset", default="imdb", show_default=True, help="Dataset to score.")
@click.option("--limit", type=int, default=None,
              help="Score only the first N reviews of the selection, in a fixed pseudo-random "
              "order shared by all models.")
@click.option("--device", default="auto", show_default=True,
              type=click.Choice(["auto", "cpu", "cuda"]), help="Where the model runs.")
@click.option("--batch-tokens", type=int, default=None,
              help="Token budget per batch (padded tokens) [default: 2048 on CPU, 65536 on CUDA].")
@click.option("--max-length", type=int, default=512, show_default=True,
              help="Longest input in tokens; longer reviews are truncated and flagged.")
@click.option("--truncation", type=click.Choice(["head", "head+tail"]), default="head",
              show_default=True, help="Keep the first tokens, or the first 128 and last 382 "
              "(scaled to --max-length).")
@click.option("--quantize", type=click.Choice(["none", "int8"]), default="none",
              show_default=True, help="CPU only: int8 dynamic quantisation of linear layers.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@db_option
@_fail_cleanly
def score(model_name: str, version: str, splits: tuple[str, ...], dataset: str,
          limit: int | None, device: str, batch_tokens: int | None, max_length: int,
          truncation: str, quantize: str, threads: int | None, quiet: bool,
          db_url: str | None) -> None:
    """Score reviews with a model version and store one prediction per review."""
    from asaas.models.registry import resolve_for_scoring
    from asaas.scoring import ScoreOptions
    from asaas.scoring import score as run_score

    split_list = _split_list(splits)
    options = ScoreOptions(
        dataset=dataset, splits=None if split_list == ["all"] else split_list, limit=limit,
        device=device, batch_tokens=batch_tokens, max_length=max_length, truncation=truncation,
        quantize=None if quantize == "none" else quantize, threads=threads, progress=not quiet)
    store = _open(db_url)
    mv = resolve_for_scoring(store, model_name, _version(version))
    report = run_score(store, mv, options)
    if report.run_id is None:
        click.echo(f"nothing to score: all {report.selected:,} selected reviews already have "
                   f"predictions from {mv.label}")
        return
    click.echo(
        f"scored {report.scored:,} reviews with {mv.label} on {report.device} in "
        f"{report.seconds:.1f} s ({report.rate:,.1f} reviews/s); {report.truncated:,} truncated, "
        f"{report.failed:,} failed, {report.already_done:,} already done (run {report.run_id})")


# -- views, reports, SQL -------------------------------------------------------------------------


@cli.group()
def views() -> None:
    """Manage the SQL views in sql/ (metrics, curves, disagreements...)."""


@views.command("install")
@db_option
@_fail_cleanly
def views_install(db_url: str | None) -> None:
    """(Re)install every view from sql/ with CREATE OR REPLACE VIEW."""
    from asaas.views import install_views

    names = install_views(_open(db_url))
    click.echo(f"installed {len(names)} views: {', '.join(names)}")


def format_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json"]),
                        default="table", show_default=True, help="Output format.")(func)


COMPACT_COLUMNS = ("model", "version", "split", "n", "accuracy", "accuracy_ci_low",
                   "accuracy_ci_high", "f1", "roc_auc", "roc_auc_ci_low", "roc_auc_ci_high",
                   "average_precision", "brier_score", "expected_calibration_error", "reason")


@cli.command()
@click.option("--split", default="test", show_default=True, help="Split to report, or all.")
@click.option("--dataset", default="imdb", show_default=True, help="Dataset to report.")
@click.option("--model", "models", multiple=True, metavar="NAME",
              help="Only these models (repeatable). Default: every model.")
@click.option("--latest", is_flag=True, help="Only the latest version of each model.")
@click.option("--full", is_flag=True, help="All metric columns in table/markdown output "
              "(csv and json always have them).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report with plots to this file.")
@format_option
@db_option
@_fail_cleanly
def report(split: str, dataset: str, models: tuple[str, ...], latest: bool, full: bool,
           html_path: str | None, fmt: str, db_url: str | None) -> None:
    """Compare model versions: accuracy, F1, ROC AUC, calibration... from the SQL views."""
    from asaas.report import format_table, metrics_report

    store = _open(db_url)
    table = metrics_report(store, split=split, dataset=dataset, models=models, latest=latest)
    if html_path:  # first, so that a report that cannot be drawn fails before printing
        from asaas.html_report import write_html_report

        write_html_report(store, html_path, table, split=split, dataset=dataset)
    if not table.rows:
        click.echo("no predictions on labelled reviews yet: run `asaas score --model NAME`")
    else:
        compact = fmt in ("table", "markdown") and not full
        click.echo(format_table(table.select(COMPACT_COLUMNS) if compact else table, fmt))
    if html_path:
        click.echo(f"wrote {html_path}", err=True)


@cli.command()
@click.argument("model_a")
@click.argument("model_b")
@click.option("--split", default="test", show_default=True, help="Split, or all.")
@click.option("--dataset", default="imdb", show_default=True, help="Dataset.")
@click.option("--limit", type=int, default=20, show_default=True,
              help="Most reviews to show, the most confident disagreements first.")
@click.option("--wrong-only", is_flag=True, help="Only reviews MODEL_A got wrong.")
@format_option
@db_option
@_fail_cleanly
def disagreements(model_a: str, model_b: str, split: str, dataset: str, limit: int,
                  wrong_only: bool, fmt: str, db_url: str | None) -> None:
    """Reviews on which two models disagree (NAME or NAME:VERSION; latest by default)."""
    from asaas.report import disagreements_report, format_table

    table = disagreements_report(_open(db_url), model_a, model_b, split=split, dataset=dataset,
                                 limit=limit, wrong_only=wrong_only)
    if not table.rows:
        click.echo(f"no disagreements between {model_a} and {model_b} on {dataset}/{split}")
        return
    click.echo(format_table(table, fmt))


@cli.command("sql")
@click.argument("query_text", metavar="QUERY")
@format_option
@db_option
@_fail_cleanly
def sql_command(query_text: str, fmt: str, db_url: str | None) -> None:
    """Run one read-only SQL query against the database (tables and views)."""
    from asaas.report import format_table, query

    table = query(_open(db_url), query_text)
    click.echo(format_table(table, fmt) if table.columns else "(no rows)")


# -- jobs ----------------------------------------------------------------------------------------


@cli.group()
def job() -> None:
    """Run job files (ingest, score, views, report steps) unattended, e.g. from cron."""


@job.command("run")
@click.argument("job_file", type=click.Path(dir_okay=False))
@db_option
@click.pass_context
@_fail_cleanly
def job_run(ctx: click.Context, job_file: str, db_url: str | None) -> None:
    """Run JOB_FILE: exit 0 when every step succeeded, 1 when a step failed, 2 for a bad job
    file, 75 when another run of the same job holds its lock."""
    from asaas.jobs import run_job

    ctx.exit(run_job(job_file, db_url=db_url))


@job.command("cron")
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("--schedule", default="0 3 * * *", show_default=True,
              help="Cron schedule: five fields, or @daily, @hourly...")
@click.option("--log", "log_file", default=None, type=click.Path(dir_okay=False),
              help="Log file the run appends to [default: logs/NAME.log beside the job file].")
@db_option
@_fail_cleanly
def job_cron(job_file: str, schedule: str, log_file: str | None, db_url: str | None) -> None:
    """Print a crontab line that runs JOB_FILE under cron's bare environment."""
    from asaas.jobs import crontab_line

    click.echo(crontab_line(job_file, schedule, log_file=log_file, db_url=db_url))


def main() -> None:
    cli(prog_name="asaas")


if __name__ == "__main__":
    sys.exit(main())
