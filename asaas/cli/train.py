"""`asaas train`: baselines and fine-tuning, each run a new model version."""

from __future__ import annotations

import click

from asaas.clock import utcnow
from asaas.cli.base import cli, db_option, fail_cleanly, model_home, open_db, split_list
from asaas.training.options import DEFAULT_SEED, FinetuneOptions


@cli.group()
def train() -> None:
    """Train models on ingested reviews; each run registers a new numbered version."""


#: The defaults of every training setting (asaas.training.options), shown by --help.
_DEFAULTS = FinetuneOptions()


_skip_existing_option = click.option(
    "--skip-existing", is_flag=True,
    help="Do nothing if a version of this name was already trained with the same recipe on "
    "the same rows (for scripts and cron).")

_language_option = click.option(
    "--language", "languages", multiple=True, metavar="LANG",
    help="Train only on reviews in these languages (repeat or comma-separate, e.g. english); "
    "reviews with no language recorded are kept. The version scores these languages by default.")


def _baseline_command(kind: str, summary: str) -> None:
    @train.command(kind, help=summary)
    @click.option("--name", default=kind, show_default=True, help="Model name to register under.")
    @click.option("--train-dataset", default=_DEFAULTS.train_dataset, show_default=True,
                  help="Ingested dataset whose train split to learn from.")
    @click.option("--limit", type=int, default=None,
                  help="Train on a fixed pseudo-random sample of N reviews.")
    @click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
                  help="Random seed.")
    @click.option("--class-weight", type=click.Choice(["none", "balanced"]), default="none",
                  show_default=True, help="balanced weighs the rarer class up (e.g. Steam "
                  "reviews, 94% positive).")
    @_language_option
    @_skip_existing_option
    @db_option
    @fail_cleanly
    def command(name: str, train_dataset: str, limit: int | None, seed: int, class_weight: str,
                languages: tuple[str, ...], skip_existing: bool, db_url: str | None) -> None:
        from asaas.training.baselines import train_baseline

        store = open_db(db_url)
        started = utcnow()
        mv = train_baseline(store, kind, model_home(store), name=name, dataset=train_dataset,
                            limit=limit, seed=seed, skip_existing=skip_existing,
                            languages=split_list(languages),
                            class_weight=None if class_weight == "none" else class_weight)
        if mv.created_at < started:
            click.echo(f"already trained: {mv.label} has this recipe and data ({mv.artifact_uri})")
            return
        click.echo(f"trained {mv.label} on {mv.metrics['train_rows']:,} {train_dataset} reviews "
                   f"in {mv.metrics['train_seconds']:.1f} s -> {mv.artifact_uri}")


_baseline_command("bow-rf", "The notebook's baseline: bag-of-words counts + random forest.")
_baseline_command("tfidf-lr", "Strong cheap baseline: NB-scaled word+bigram TF-IDF + logistic "
                  "regression (NBSVM-style).")


@train.command("finetuned")
@click.option("--base", default=_DEFAULTS.base, show_default=True,
              metavar="HUB_ID_OR_PATH", help="Pretrained encoder to fine-tune (Hub id or folder).")
@click.option("--name", default=_DEFAULTS.name, show_default=True,
              help="Model name to register under (e.g. pretrained for an SST-2 model).")
@click.option("--train-dataset", default=_DEFAULTS.train_dataset, show_default=True,
              help="Ingested labelled dataset whose train split to learn from.")
@click.option("--limit", type=int, default=None,
              help="Train on a fixed pseudo-random sample of N reviews.")
@click.option("--max-length", type=int, default=_DEFAULTS.max_length, show_default=True,
              help="Longest input in tokens; the version is scored at the same length.")
@click.option("--truncation", type=click.Choice(["head", "head+tail"]),
              default=_DEFAULTS.truncation,
              show_default=True, help="How long reviews are cut (as in `asaas score`).")
@click.option("--epochs", type=int, default=_DEFAULTS.epochs, show_default=True,
              help="Passes over the data.")
@click.option("--batch-size", type=int, default=_DEFAULTS.batch_size, show_default=True,
              help="Reviews per step.")
@click.option("--lr", type=float, default=_DEFAULTS.lr, show_default=True,
              help="Peak learning rate.")
@click.option("--class-weight", "ft_class_weight", type=click.Choice(["none", "balanced"]),
              default="none", show_default=True,
              help="balanced weighs each class in the loss inversely to its frequency (e.g. "
              "Steam reviews, 94% positive).")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Random seed.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=_DEFAULTS.device,
              show_default=True, help="Where to train.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch.")
@click.option("--checkpoint-minutes", type=float, default=_DEFAULTS.checkpoint_minutes,
              show_default=True,
              help="Save a resumable checkpoint this often (and after every epoch).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run with the same settings from its checkpoint.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@_language_option
@_skip_existing_option
@db_option
@fail_cleanly
def train_finetuned(base: str, name: str, train_dataset: str, limit: int | None,
                    max_length: int, truncation: str, epochs: int, batch_size: int, lr: float,
                    seed: int, device: str, threads: int | None, checkpoint_minutes: float,
                    resume: bool, quiet: bool, languages: tuple[str, ...], skip_existing: bool,
                    db_url: str | None, ft_class_weight: str = "none") -> None:
    """Fine-tune a pretrained transformer encoder as a sentiment classifier."""
    from asaas.training.finetune import finetune

    store = open_db(db_url)
    opts = FinetuneOptions(base=base, name=name, train_dataset=train_dataset, limit=limit,
                           max_length=max_length, truncation=truncation, epochs=epochs,
                           batch_size=batch_size, lr=lr, seed=seed, device=device,
                           threads=threads, checkpoint_minutes=checkpoint_minutes,
                           resume=resume, skip_existing=skip_existing, progress=not quiet,
                           languages=split_list(languages),
                           class_weight=None if ft_class_weight == "none" else ft_class_weight)
    started = utcnow()
    mv = finetune(store, model_home(store), opts)
    if mv.created_at < started:
        click.echo(f"already trained: {mv.label} has this recipe and data ({mv.artifact_uri})")
        return
    click.echo(f"registered {mv.label} -> {mv.artifact_uri}")
