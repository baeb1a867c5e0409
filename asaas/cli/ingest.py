"""`asaas ingest`: load reviews from files, archives or the Hub."""

from __future__ import annotations

from typing import Any

import click

from asaas.cli.base import cli, db_option, fail_cleanly, open_db, split_list


def _column_option(name: str, what: str) -> Any:
    return click.option(f"--{name}-column", f"{name.replace('-', '_')}_column", default=None,
                        metavar="COLUMN", help=what)


@cli.command()
@click.option(
    "--source",
    metavar="PATH",
    default=None,
    help="aclImdb/ folder, aclImdb_v1.tar.gz, Parquet/CSV/TSV/JSONL/JSON file or folder (Steam "
    "API pages review_<appid>.json included), or hf:NAME for a Hub dataset. Default: the Hub "
    "dataset stanfordnlp/imdb.",
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
    default=None,
    help="Name that keeps these reviews apart from other datasets (e.g. sst2, steam; at most "
    "64 characters). Default: imdb, or steam with --format steam.",
)
@click.option("--format", "fmt", type=click.Choice(["steam"]), default=None,
              help="Column preset: steam reads Steam appreviews records (recommendationid, "
              "review, voted_up, timestamp_created, language, appid/app_name, "
              "written_during_early_access, developer_response, timestamp_dev_responded).")
@_column_option("text", "Column holding the review text (default: text, review, content, "
                "sentence...).")
@_column_option("label", "Column holding the label: 0/1, pos/neg, true/false, or words of "
                "--label-map (default: label, sentiment).")
@_column_option("id", "Column holding a unique review id (default: id, review_id; without one, "
                "ids are derived from split and text).")
@_column_option("rating", "Column holding a star rating, kept as is (default: rating, stars, "
                "score).")
@_column_option("product", "Column holding the product (game, app) id; rows without one are "
                "rejected.")
@_column_option("product-name", "Column holding the product's name.")
@_column_option("time", "Column holding when the review was written: ISO 8601, epoch seconds "
                "or a date-time type; a zone is converted to UTC, none means UTC.")
@_column_option("language", "Column holding the review's language.")
@_column_option("early-access", "Column holding a true/false 'written during early access'.")
@_column_option("developer-response", "Column holding the developer's reply.")
@_column_option("developer-responded-at", "Column holding when the developer replied.")
@click.option("--time-format", default=None, metavar="FORMAT",
              help="strptime format for time strings that are not ISO 8601, e.g. "
              "'%d.%m.%Y %H:%M:%S'.")
@click.option("--label-map", default=None, metavar="WORD=1,WORD=0",
              help="Label words to 1 (positive), 0 (negative) or -1 (unlabelled), matched "
              "case-insensitively before the usual words, e.g. 'Empfohlen=1,Nicht empfohlen=0'.")
@click.option("--split-before", default=None, metavar="DATE",
              help="Split by time: reviews written before DATE (YYYY-MM-DD, UTC) are train, the "
              "others test; rows without a time are rejected.")
@click.option("--product-kind", default=None, metavar="KIND",
              help="products.kind of new products, e.g. game, app (steam: game).")
@click.option("--max-review-chars", type=int, default=None, metavar="N",
              help="Reject reviews longer than N characters [env ASAAS_MAX_REVIEW_CHARS; "
              "default 1,000,000].")
@click.option("--default-split", default="train", show_default=True,
              help="Split for table files with no split column whose name is not a split name.")
@db_option
@fail_cleanly
def ingest(
    source: str | None,
    splits: tuple[str, ...],
    dataset: str | None,
    fmt: str | None,
    time_format: str | None,
    label_map: str | None,
    split_before: str | None,
    product_kind: str | None,
    max_review_chars: int | None,
    default_split: str,
    db_url: str | None,
    **columns: str | None,
) -> None:
    """Load reviews into the database; running it again adds only what is new."""
    from asaas.ingest import ColumnNames, IngestOptions, parse_label_map, parse_split_before
    from asaas.ingest import ingest as run_ingest
    from asaas.ingest.options import check_options

    # Options are checked before the database is opened: a typo never creates a database.
    options = check_options(IngestOptions(
        dataset=dataset, splits=split_list(splits), format=fmt,
        columns=ColumnNames(**{k.removesuffix("_column"): v for k, v in columns.items()}),
        default_split=default_split, label_map=parse_label_map(label_map),
        time_format=time_format, split_before=parse_split_before(split_before),
        product_kind=product_kind, max_review_chars=max_review_chars))
    store = open_db(db_url)
    report = run_ingest(store, source, options)
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
    if report.products:
        click.echo(f"  products: {report.products:,} ({report.products_created:,} new)")
    for path, reason in report.skipped_files:
        click.echo(f"  skipped file {path}: {reason}")
    if report.inserted == 0 and report.rows_read and report.already_present:
        click.echo(f"nothing new: every valid row is already in dataset {report.dataset!r}")
