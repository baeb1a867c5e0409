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
@click.option("--threads", type=int, default=None,
              help="CPU threads for torch (with --engine ray: CPUs each Ray worker reserves "
              "and uses) [default: torch's choice; 1 per Ray worker].")
@click.option("--batch-size", type=int, default=None,
              help="Reviews per step: what the local engine tokenises and scores at once, and "
              "the shard each Ray worker scores per call [default: 512 on CPU, 4096 on CUDA].")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
              show_default=True,
              help="local: this process; ray: Ray Data actors, one model copy each (needs "
              "`pip install \"asaas[ray]\"`). Both store the same predictions and resume.")
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
@db_option
@fail_cleanly
def score(model_name: str, version: str, splits: tuple[str, ...], dataset: str,
          limit: int | None, max_reviews: int | None, device: str, batch_tokens: int | None,
          languages: tuple[str, ...], max_length: int | None, truncation: str | None,
          quantize: str | None, threads: int | None, batch_size: int | None, engine: str,
          address: str | None, workers: int | None, gpus_per_worker: float | None, quiet: bool,
          db_url: str | None) -> None:
    """Score reviews with a model version and store one prediction per review."""
    from asaas.errors import ConfigError
    from asaas.models.registry import resolve_for_scoring
    from asaas.scoring import ScoreOptions
    from asaas.scoring import score as run_score

    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1 (got {batch_size})")
    ray_flags = [flag for flag, value in (("--address", address), ("--workers", workers),
                                          ("--gpus-per-worker", gpus_per_worker))
                 if value is not None]
    if engine == "local" and ray_flags:
        raise ConfigError(f"{', '.join(ray_flags)} {'is' if len(ray_flags) == 1 else 'are'} for "
                          "the Ray engine: add --engine ray")
    selected = split_list(splits)
    options = ScoreOptions(
        dataset=dataset, splits=None if selected == ["all"] else selected, limit=limit,
        max_reviews=max_reviews,
        device=device, batch_tokens=batch_tokens, languages=split_list(languages),
        max_length=max_length, truncation=truncation, quantize=quantize, threads=threads,
        chunk_size=batch_size, progress=not quiet)
    options.check()  # impossible numbers are refused before the database or a model is opened
    store = open_db(db_url)
    mv = resolve_for_scoring(store, model_name, _version(version))
    if engine == "ray":
        from asaas.scoring.ray_engine import RayOptions, score_ray

        report = score_ray(store, mv, options, RayOptions(
            address=address, workers=workers, gpus_per_worker=gpus_per_worker or 0.0))
    else:
        report = run_score(store, mv, options)
    if report.run_id is None:
        click.echo(f"nothing to score: all {report.selected:,} selected reviews already have "
                   f"predictions from {mv.label}")
        return
    click.echo(
        f"scored {report.scored:,} reviews with {mv.label} ({report.recipe}) on {report.device}"
        + (f" with {report.workers} Ray workers" if engine == "ray" else "") + " in "
        f"{report.seconds:.1f} s ({report.rate:,.1f} reviews/s); {report.truncated:,} truncated, "
        f"{report.failed:,} failed, {report.already_done:,} already done (run {report.run_id})"
        + (f"; {report.left:,} left for a later run" if report.left else ""))
