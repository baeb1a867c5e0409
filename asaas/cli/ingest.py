"""`asaas ingest`: load reviews from files, archives or the Hub."""

from __future__ import annotations

import click

from asaas.cli.base import cli, db_option, fail_cleanly, open_db, split_list


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
@fail_cleanly
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

    store = open_db(db_url)
    report = run_ingest(
        store,
        source,
        dataset=dataset,
        splits=split_list(splits),
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
