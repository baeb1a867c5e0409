"""`asaas train offtopic`: the off-topic classifier (review bomb, about the game, categories)."""

from __future__ import annotations

import click

from asaas.cli.base import db_option, fail_cleanly, format_option, model_home, open_db
from asaas.cli.train import train


@train.command("offtopic")
@click.option("--source", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Annotated reviews (Parquet, CSV, JSON Lines): a text, the incident each "
              "review belongs to, and yes/no columns (e.g. ../shared/data/steam/meckl_review_"
              "bombing_annotated_steam_metacritic.parquet).")
@click.option("--name", default="offtopic", show_default=True,
              help="Model name to register under.")
@click.option("--labels", "labels_spec", default=None, metavar="NAME[=COLUMN],...",
              help="Questions to learn: bomb, about_game, game_content, developer, ideological, "
              "political (the annotated file's columns), or NAME=COLUMN for another file's "
              "[default: all six].")
@click.option("--features", "features_spec", default="tfidf", show_default=True,
              metavar="BLOCK,...",
              help="Feature blocks, fused late: tfidf, minilm (English sentence embeddings), e5 "
              "(multilingual; needs asaas[multilingual]), burst (features of the incident "
              "itself, for --burst-labels; applied by alerts). The measured best: "
              "tfidf,minilm,e5,burst.")
@click.option("--burst-labels", default="bomb", show_default=True, metavar="NAME,...",
              help="Labels that also get the burst block.")
@click.option("--background", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Ordinary reviews for the burst block (e.g. the woctezuma Steam file): how "
              "particular a review is to its burst against them.")
@click.option("--text-column", default="review", show_default=True, help="Column of the text.")
@click.option("--group-column", default="project", show_default=True,
              help="Column naming each review's incident (the unit left out in evaluation).")
@click.option("--no-evaluation", is_flag=True,
              help="Skip the leave-one-incident-out evaluation (then no share is corrected).")
@click.option("--minilm", "minilm_path", default=None, metavar="DIR",
              help="Folder of the all-MiniLM-L6-v2 sentence encoder for the minilm block [env "
              "ASAAS_MINILM; default: the Hub id]. Recorded with its checksums: scoring loads "
              "the same files.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for the embedders.")
@format_option
@db_option
@fail_cleanly
def train_offtopic(source: str, name: str, labels_spec: str | None, features_spec: str,
                   burst_labels: str, background: str | None, text_column: str,
                   group_column: str, no_evaluation: bool, minilm_path: str | None,
                   threads: int | None, fmt: str, db_url: str | None) -> None:
    """Train the off-topic classifier on annotated incidents, evaluated by leaving one
    incident out (ROC AUC and balanced accuracy per held-out incident, 95% intervals); one
    version answers every label."""
    from asaas.offtopic.data import parse_labels
    from asaas.offtopic.embedding import embedder
    from asaas.offtopic.features import EMBEDDING_BLOCKS, parse_features
    from asaas.offtopic.train import (OfftopicOptions, incidents_table, summary_table,
                                      train_offtopic as run)
    from asaas.tables import format_table

    opts = OfftopicOptions(source=source, name=name, labels=parse_labels(labels_spec),
                           features=parse_features(features_spec),
                           burst_labels=[b.strip() for b in burst_labels.split(",")
                                         if b.strip()],
                           text_column=text_column, group_column=group_column,
                           background=background, threads=threads,
                           evaluate=not no_evaluation)
    store = open_db(db_url)
    home = model_home(store)
    embedders = {block: embedder(block, home=home, threads=threads, path=minilm_path)
                 for block in opts.features if block in EMBEDDING_BLOCKS}
    report = run(store, home, opts, embedders=embedders,
                 log=lambda line: click.echo(line, err=True))
    mv = report.version
    click.echo(f"trained {mv.label} ({', '.join(mv.params['labels'])}; blocks "
               f"{', '.join(opts.features)}) on {report.rows:,} reviews of "
               f"{len(mv.params['incidents'])} incidents in {report.seconds:.0f} s "
               f"(embedding {report.embed_seconds:.0f} s) -> {mv.artifact_uri}")
    if report.dropped_empty:
        click.echo(f"{report.dropped_empty} reviews with an empty text were left out", err=True)
    if report.evaluation:
        click.echo("\nLeave one incident out, per held-out incident:")
        click.echo(format_table(incidents_table(report.evaluation), fmt))
        click.echo("\nMean over the held-out incidents, and the pooled error rates:")
        click.echo(format_table(summary_table(report.evaluation), fmt))
