"""`asaas score`: store a model version's predictions."""

from __future__ import annotations

import click

from asaas.cli.base import cli, db_option, fail_cleanly, open_db, split_list


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
@click.option("--max-reviews", type=int, default=None,
              help="Score at most N reviews in this run (in the same fixed order); a later run "
              "continues. For bounded cron runs.")
@click.option("--device", default="auto", show_default=True,
              type=click.Choice(["auto", "cpu", "cuda"]), help="Where the model runs.")
@click.option("--batch-tokens", type=int, default=None,
              help="Token budget per batch (padded tokens) [default: 2048 on CPU, 65536 on CUDA].")
@click.option("--language", "languages", multiple=True, metavar="LANG",
              help="Score only reviews in these languages (repeat or comma-separate), or all "
              "[default: the languages the version was trained on; english when not recorded]. "
              "Reviews with no language recorded are always scored.")
@click.option("--max-length", type=int, default=None,
              help="Tokens read per review [default: the version's recipe]. A different value "
              "is refused: score another recipe as a variant (`asaas models register --from`).")
@click.option("--truncation", type=click.Choice(["head", "head+tail"]), default=None,
              help="How longer reviews are cut [default: the version's recipe; a different "
              "value is refused as for --max-length].")
@click.option("--quantize", type=click.Choice(["none", "int8"]), default=None,
              help="int8 dynamic quantisation (CPU) [default: the version's recipe; a "
              "different value is refused as for --max-length].")
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@db_option
@fail_cleanly
def score(model_name: str, version: str, splits: tuple[str, ...], dataset: str,
          limit: int | None, max_reviews: int | None, device: str, batch_tokens: int | None,
          languages: tuple[str, ...], max_length: int | None, truncation: str | None,
          quantize: str | None, threads: int | None, quiet: bool, db_url: str | None) -> None:
    """Score reviews with a model version and store one prediction per review."""
    from asaas.models.registry import resolve_for_scoring
    from asaas.scoring import ScoreOptions
    from asaas.scoring import score as run_score

    selected = split_list(splits)
    options = ScoreOptions(
        dataset=dataset, splits=None if selected == ["all"] else selected, limit=limit,
        max_reviews=max_reviews,
        device=device, batch_tokens=batch_tokens, languages=split_list(languages),
        max_length=max_length, truncation=truncation, quantize=quantize, threads=threads,
        progress=not quiet)
    store = open_db(db_url)
    mv = resolve_for_scoring(store, model_name, _version(version))
    report = run_score(store, mv, options)
    if report.run_id is None:
        click.echo(f"nothing to score: all {report.selected:,} selected reviews already have "
                   f"predictions from {mv.label}")
        return
    click.echo(
        f"scored {report.scored:,} reviews with {mv.label} ({report.recipe}) on {report.device} in "
        f"{report.seconds:.1f} s ({report.rate:,.1f} reviews/s); {report.truncated:,} truncated, "
        f"{report.failed:,} failed, {report.already_done:,} already done (run {report.run_id})"
        + (f"; {report.left:,} left for a later run" if report.left else ""))
