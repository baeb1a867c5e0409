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


# -- every language (issue 20) -------------------------------------------------------------------

@train.command("tfidf-multi")
@click.option("--name", default="tfidf-multi", show_default=True,
              help="Model name to register under.")
@click.option("--train-dataset", default=_DEFAULTS.train_dataset, show_default=True,
              help="Ingested dataset whose train split (every language) to learn from.")
@click.option("--limit", type=int, default=None,
              help="Train on a fixed pseudo-random sample of N reviews.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Random seed.")
@click.option("--folds", type=int, default=3, show_default=True,
              help="Folds of the out-of-fold probabilities the per-language thresholds are "
              "chosen on.")
@click.option("--min-negatives", type=int, default=20, show_default=True,
              help="Held-out negatives (and positives) a language needs for a threshold of its "
              "own; fewer: the pooled threshold, and `report --by language` says so.")
@click.option("--C", "c", type=float, default=1.0, show_default=True,
              help="Inverse regularisation strength of the logistic regression.")
@click.option("--max-features", type=int, default=500_000, show_default=True,
              help="Most character n-grams kept (the most frequent).")
@_language_option
@_skip_existing_option
@click.option("--quiet", is_flag=True, help="No progress output.")
@db_option
@fail_cleanly
def train_tfidf_multi(name: str, train_dataset: str, limit: int | None, seed: int, folds: int,
                      min_negatives: int, c: float, max_features: int,
                      languages: tuple[str, ...], skip_existing: bool, quiet: bool,
                      db_url: str | None) -> None:
    """Every language: char n-gram TF-IDF + logistic regression pooled over all languages,
    with a decision threshold per language chosen on out-of-fold training reviews."""
    import sys

    from asaas.training.multilingual import TfidfMultiOptions, train_tfidf_multi

    opts = TfidfMultiOptions(name=name, train_dataset=train_dataset, limit=limit, seed=seed,
                             folds=folds, min_negatives=min_negatives, C=c,
                             max_features=max_features, languages=split_list(languages),
                             skip_existing=skip_existing)
    opts.check()
    store = open_db(db_url)
    started = utcnow()
    mv = train_tfidf_multi(store, model_home(store), opts, None if quiet else sys.stderr)
    _report_multilingual(mv, started, train_dataset)


@train.command("e5-stack")
@click.option("--name", default="e5-stack", show_default=True,
              help="Model name to register under.")
@click.option("--base", default="tfidf-multi", show_default=True, metavar="NAME[:VERSION]",
              help="The tfidf-multi version to stack on (its training reviews and their "
              "out-of-fold scores are used).")
@click.option("--negatives-per-language", type=int, default=500, show_default=True,
              help="Most negative training reviews embedded per language (content-hash "
              "order).")
@click.option("--positives-per-language", type=int, default=300, show_default=True,
              help="Most positive training reviews embedded per language with at least "
              "1,000 training reviews.")
@click.option("--small-language-positives", type=int, default=100, show_default=True,
              help="Most positive training reviews embedded per smaller language.")
@click.option("--folds", type=int, default=5, show_default=True,
              help="Folds for choosing C and the per-language thresholds.")
@click.option("--min-negatives", type=int, default=20, show_default=True,
              help="Held-out negatives (and positives) a language needs for its own threshold.")
@click.option("--max-tokens", type=int, default=128, show_default=True,
              help="e5 reads at most this many tokens of a review; scoring uses the same.")
@click.option("--threads", type=int, default=None,
              help="CPU threads for e5 [default: all cores].")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Random seed.")
@_skip_existing_option
@click.option("--quiet", is_flag=True, help="No progress output.")
@db_option
@fail_cleanly
def train_e5_stack(name: str, base: str, negatives_per_language: int,
                   positives_per_language: int, small_language_positives: int, folds: int,
                   min_negatives: int, max_tokens: int, threads: int | None, seed: int,
                   skip_existing: bool, quiet: bool, db_url: str | None) -> None:
    """Every language, opt-in and slower: logistic regression on [multilingual-e5-small
    embedding, the tfidf-multi score], thresholds per language. Needs
    `pip install 'asaas[multilingual]'`; embeds a sample (a few reviews/s on a CPU core)."""
    import sys

    from asaas.training.multilingual import StackOptions, train_e5_stack

    opts = StackOptions(name=name, base=base, negatives_per_language=negatives_per_language,
                        positives_per_language=positives_per_language,
                        small_language_positives=small_language_positives, folds=folds,
                        min_negatives=min_negatives, max_tokens=max_tokens, threads=threads,
                        seed=seed, skip_existing=skip_existing)
    opts.check()
    store = open_db(db_url)
    started = utcnow()
    mv = train_e5_stack(store, model_home(store), opts, None if quiet else sys.stderr)
    _report_multilingual(mv, started, mv.train_dataset or "")


def _report_multilingual(mv, started, dataset: str) -> None:
    if mv.created_at < started:
        click.echo(f"already trained: {mv.label} has this recipe and data ({mv.artifact_uri})")
        return
    languages = mv.metrics.get("oof_balanced_accuracy", {})
    click.echo(f"trained {mv.label} on {mv.metrics['train_rows']:,} {dataset} reviews in "
               f"{len(languages)} languages in {mv.metrics['train_seconds']:.1f} s -> "
               f"{mv.artifact_uri}; its threshold per language: `asaas report --by language "
               f"--model {mv.name}` once it scored labelled reviews")
