"""`asaas score`: store a model version's predictions."""

from __future__ import annotations

from typing import Any

import click

from asaas.cli.base import cli, dataset_option, db_option, fail_cleanly, open_db
from asaas.settings import DEFAULT_PROGRESS_EVERY_S, DEFAULT_SPLIT


def _version(_ctx: click.Context, _param: click.Parameter, value: str) -> int | None:
    """``--version N`` or ``latest``, read as the registry reads NAME:VERSION."""
    from asaas.errors import AsaasError
    from asaas.models.registry import parse_ref

    try:
        return parse_ref(f"model:{value}")[1]
    except AsaasError:
        raise click.BadParameter("use a version number (from 1) or 'latest'") from None


@cli.command()
@click.option("--model", "model_name", required=True, metavar="NAME",
              help="Registered model name (see `asaas models list`); `pretrained` registers the "
              "default Hub model on first use.")
@click.option("--version", "version", default="latest", show_default=True, callback=_version,
              help="Model version number, or latest.")
@click.option("--split", "splits", multiple=True,
              help=f"Splits to score (repeat or comma-separate), or all "
              f"[default: {DEFAULT_SPLIT}].")
@dataset_option
@click.option("--limit", type=int, default=None,
              help="Score only the first N reviews of the selection, in a fixed pseudo-random "
              "order shared by all models.")
@click.option("--max-reviews", type=int, default=None,
              help="Score at most N reviews in this run (in the same fixed order); a later run "
              "continues. For bounded cron runs.")
@click.option("--device", default=None, type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where the model runs [default: auto].")
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
@click.option("--threads", type=int, default=None,
              help="CPU threads for torch (with --engine ray: CPUs each Ray worker reserves "
              "and uses) [default: torch's choice; 1 per Ray worker].")
@click.option("--batch-size", type=int, default=None,
              help="Reviews per step: what the local engine tokenises and scores at once, and "
              "the shard each Ray worker scores per call [default: 512 on CPU, 4096 on CUDA].")
@click.option("--engine", type=click.Choice(["local", "ray"]), default=None,
              help="local: this process; ray: Ray Data actors, one model copy each (needs "
              "`pip install \"asaas[ray]\"`). Both store the same predictions and resume "
              "[default: local].")
@click.option("--address", default=None, metavar="ADDR",
              help="Ray cluster to use: auto, HOST:PORT or ray://HOST:PORT [default: "
              "RAY_ADDRESS, else a new local Ray instance sized to --workers]. --engine ray.")
@click.option("--workers", type=int, default=None,
              help="Ray actors, each holding one copy of the model [default: one per "
              "--gpus-per-worker GPUs, else one per CPU (per --threads CPUs)]. --engine ray.")
@click.option("--gpus-per-worker", type=float, default=None, metavar="G",
              help="GPUs each Ray actor reserves (0.5 puts two actors on a GPU); the actors then "
              "score on CUDA [default: 0, CPU]. --engine ray.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--progress-every", "progress_every_s", type=float, default=None, metavar="SECONDS",
              help="Seconds between progress lines when the output is not a terminal (cron, a "
              f"log file; 0: a line per chunk) [default: {DEFAULT_PROGRESS_EVERY_S:g}].")
@db_option
@fail_cleanly
def score(model_name: str, version: int | None, db_url: str | None, **flags: Any) -> None:
    """Score reviews with a model version and store one prediction per review."""
    from asaas.models.registry import resolve_for_scoring
    from asaas.scoring import ScoreRun, run_score

    # Impossible values are refused before the database or a model is opened; a job's score
    # step builds its ScoreRun by the same function.
    run = ScoreRun.from_values(flags, "cli")
    store = open_db(db_url)
    mv = resolve_for_scoring(store, model_name, version)
    report = run_score(store, mv, run)
    if report.run_id is None:
        click.echo(f"nothing to score: all {report.selected:,} selected reviews already have "
                   f"predictions from {mv.label}")
        return
    click.echo(
        f"scored {report.scored:,} reviews with {mv.label} ({report.recipe}) on {report.device}"
        + (f" with {report.workers} Ray workers" if run.engine == "ray" else "") + " in "
        f"{report.seconds:.1f} s ({report.rate:,.1f} reviews/s); {report.truncated:,} truncated, "
        f"{report.failed:,} failed, {report.already_done:,} already done (run {report.run_id})"
        + (f"; {report.left:,} left for a later run" if report.left else ""))
