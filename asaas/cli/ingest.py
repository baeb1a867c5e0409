"""`asaas ingest`: load reviews from files, archives or the Hub."""

from __future__ import annotations

from typing import Any

import click

from asaas.cli.base import cli, db_option, fail_cleanly, open_db, split_list
from asaas.ingest.readers.base import INGEST_DEFAULT_SPLIT
from asaas.ingest.readers.presets import PRESETS, preset_names
from asaas.settings import DEFAULT_DATASET


def _column_option(name: str, what: str) -> Any:
    return click.option(f"--{name}-column", f"{name.replace('-', '_')}_column", default=None,
                        metavar="COLUMN", help=what)


class _PresetChoice(click.Choice):
    """``--format``: the names of the registered format presets, read when the option is used,
    so a preset registered after this module was imported is a choice too."""

    def __init__(self) -> None:
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        return tuple(preset_names())

    @choices.setter
    def choices(self, value: Any) -> None:
        pass  # always the registry's


def _presets_say(what: str, attribute: str = "name") -> str:
    """``steam: game``-style notes, one per preset that has ``attribute`` (for help texts)."""
    return ", ".join(what.format(p=p) for p in PRESETS.values() if getattr(p, attribute))


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
    f"64 characters). Default: {DEFAULT_DATASET}, or "
    + _presets_say("{p.dataset} with --format {p.name}") + ".",
)
@click.option("--format", type=_PresetChoice(), default=None,
              help="Column preset: " + "; ".join(f"{p.name} reads {p.summary}"
                                                 for p in PRESETS.values()) + ".")
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
@_column_option("updated-at", "Column holding when the author last edited the review.")
@_column_option("votes-up", "Column holding the review's helpful votes.")
@_column_option("votes-funny", "Column holding the review's funny votes.")
@_column_option("comment-count", "Column holding the review's comment count.")
@_column_option("weighted-vote-score", "Column holding a helpfulness score (a number).")
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
              help="products.kind of new products, e.g. game, app ("
              + _presets_say("{p.name}: {p.product_kind}", "product_kind") + ").")
@click.option("--max-review-chars", type=int, default=None, metavar="N",
              help="Reject reviews longer than N characters [env ASAAS_MAX_REVIEW_CHARS; "
              "default 1,000,000].")
@click.option("--detect-language", is_flag=True, default=None,
              help="Detect the language of reviews whose source records none (lingua, among "
              "ASAAS_DETECT_LANGUAGES, default Steam's 24; ISO codes such as en, zh; unknown "
              "for text with under 4 letters whose script does not decide). Needs "
              "`pip install 'asaas[multilingual]'`.")
@click.option("--default-split", default=INGEST_DEFAULT_SPLIT, show_default=True,
              help="Split for table files with no split column whose name is not a split name.")
@db_option
@fail_cleanly
def ingest(source: str | None, db_url: str | None, **params: Any) -> None:
    """Load reviews into the database; running it again adds only what is new."""
    from asaas.ingest import IngestOptions
    from asaas.ingest import ingest as run_ingest

    # Options are checked before the database is opened: a typo never creates a database.
    options = IngestOptions.from_values({**params, "splits": split_list(params["splits"])},
                                         style="cli")
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
    if report.updated or report.backfilled:
        fields = ", ".join(f"{name} {n:,}" for name, n in report.changes.items())
        click.echo(f"  updated {report.updated:,} stored reviews whose new copy changed ("
                   f"{fields or 'no field'}; kept in review_history)"
                   + (f", {report.rescore:,} with a new text to score again" if report.rescore
                      else "")
                   + (f"; filled in fields of {report.backfilled:,} that had none"
                      if report.backfilled else ""))
    for path, reason in report.skipped_files:
        click.echo(f"  skipped file {path}: {reason}")
    if report.inserted == 0 and report.rows_read and report.already_present \
            and not report.updated:
        click.echo(f"nothing new: every valid row is already in dataset {report.dataset!r}")
