"""What a scoring run can be told (for either engine), what it reports, and the recipe it scores
with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asaas.errors import ConfigError
from asaas.models.registry import ModelVersion, Recipe, check_recipe
from asaas.options import Options, option, option_name
from asaas.settings import DEFAULT_DATASET, DEFAULT_PROGRESS_EVERY_S, DEFAULT_SPLIT

# CPU: small batches stay in cache (measured on the dev box with MiniLM-L6: 2048 tokens gave
# 16.8 reviews/s, 8192 gave 12.6); GPU: large batches keep the device busy.
DEFAULT_BATCH_TOKENS = {"cpu": 2048, "cuda": 65536}
MAX_BATCH_SEQUENCES = 1024
# Reviews tokenised, scored and reported per step: big enough to sort well by length, small
# enough that progress moves every few seconds on a CPU.
DEFAULT_CHUNK = {"cpu": 512, "cuda": 4096}
#: Reviews read from the database per query when no other process shares the work (DuckDB):
#: each query scans the selection once, so pages are large and sliced into chunks.
PAGE_ROWS = 16384
#: What a version is taken to read when its training data recorded no language (IMDB, SST-2,
#: Hub models): reviews in English, and reviews whose language is not recorded at all.
DEFAULT_LANGUAGES = ("english", "en")


@dataclass
class ScoreOptions(Options):
    """What reviews a run scores and how: everything ``asaas score`` and a job's score step can
    be told (their flags and keys, see asaas.options); defaults are what a user gets without.

    ``max_length``, ``truncation`` and ``quantize`` default to the version's recipe (None);
    a different explicit value is refused (see ``effective_recipe``). ``languages`` defaults to
    the languages the version was trained on (None); ``["all"]`` scores every language.
    ``splits``: None or ``["all"]`` for every split.
    """

    dataset: str = option(DEFAULT_DATASET)
    splits: list[str] | None = option(default_factory=lambda: [DEFAULT_SPLIT], flag="--split",
                                      commas=True, example='["test"]')
    languages: list[str] | None = option(None, flag="--language", commas=True,
                                         example='["english"]')
    limit: int | None = option(None, low=1)
    max_reviews: int | None = option(None, low=1)  # at most this many now; the rest wait
    device: str = option("auto", choices=("auto", "cpu", "cuda"))
    batch_tokens: int | None = option(None, low=8)  # [default: DEFAULT_BATCH_TOKENS by device]
    max_length: int | None = option(None, low=8)
    truncation: str | None = option(None, choices=("head", "head+tail"))
    quantize: str | None = option(None, choices=("none", "int8"))  # None: the recipe's
    threads: int | None = option(None, low=1)
    #: Reviews per step (``--batch-size``) [default: DEFAULT_CHUNK by device].
    chunk_size: int | None = option(None, key="batch_size", low=1)
    # Commit every few seconds or this many rows: each DuckDB commit reopens and checkpoints the
    # file (~70 ms here), so 32k-row commits keep writes above 200k rows/s (bench/write_bench.py)
    # while a kill loses at most a few seconds of work.
    commit_every_s: float = option(5.0, low=0.0, internal=True)
    commit_rows: int = option(32768, low=1, internal=True)
    progress: bool = option(True, internal=True)  # the command line's --quiet turns it off
    progress_every_s: float = option(DEFAULT_PROGRESS_EVERY_S, flag="--progress-every", low=0.0,
                                     unit="seconds")
    #: ASAAS_HOME of the database (the engines fill it in): where scorers that embed reviews
    #: keep their embedding cache (asaas.models.embeddings.cache_root).
    home: str | None = option(None, internal=True)

    def __post_init__(self) -> None:
        if self.splits == ["all"]:
            self.splits = None


@dataclass
class RayOptions(Options):
    """Where and how wide the Ray engine runs (the rest is ``ScoreOptions``, as for the local
    engine; its ``threads`` is the CPUs each actor reserves and the torch threads it uses)."""

    address: str | None = option(None)  # None: RAY_ADDRESS if set, else a new local instance
    workers: int | None = option(None, low=1)  # None: one per GPU share, else per CPU share
    gpus_per_worker: float = option(0.0, low=0.0, unit="GPUs")
    ship_artifact: bool | None = option(None, internal=True)  # None: with several nodes

    def check(self, style: str = "cli") -> None:
        """Refuse impossible values before Ray starts."""
        super().check(style)
        if self.address is not None and not self.address.strip():
            raise ConfigError(f"{option_name('address', style)} is empty; use auto, HOST:PORT "
                              "or ray://HOST:PORT")


#: Options only the Ray engine reads.
RAY_KEYS = ("address", "workers", "gpus_per_worker")


@dataclass
class ScoreRun(Options):
    """One ``asaas score`` (or job score step) for a model version: the engine and its options.
    ``run_score`` (asaas.scoring.engine) runs it."""

    engine: str = option("local", choices=("local", "ray"))
    quiet: bool = option(False)  # no progress output
    options: ScoreOptions = field(default_factory=ScoreOptions)
    ray: RayOptions = field(default_factory=RayOptions)

    def __post_init__(self) -> None:
        if self.quiet:
            self.options.progress = False

    def check_given(self, values: Mapping[str, Any], style: str) -> None:
        given = [option_name(k, style) for k in RAY_KEYS if values.get(k) is not None]
        if self.engine == "local" and given:
            fix = "--engine ray" if style == "cli" else 'engine = "ray"'
            raise ConfigError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for "
                              f"the Ray engine: add {fix}")


@dataclass
class ScoreReport:
    model: str
    version: int
    run_id: int | None
    selected: int
    already_done: int
    scored: int  # predictions this run inserted (a concurrent run may have inserted others)
    failed: int
    truncated: int
    device: str
    seconds: float
    recipe: str = ""
    left: int = 0  # pending reviews left for a later run (--max-reviews)

    @property
    def rate(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Scored:
    """Results for one chunk, in the chunk's order; failed rows carry an error instead.

    ``labels``: the predicted labels (1 positive, 0 negative) when the model decides at its
    own thresholds (a multilingual model's threshold per language); None: ``prob_positive >=
    0.5``. ``prob_positive`` is always the model's own probability."""

    prob_positive: np.ndarray
    n_tokens: list[int | None]
    truncated: list[bool | None]
    errors: dict[int, str] = field(default_factory=dict)  # position in chunk -> reason
    labels: np.ndarray | None = None
    #: Versions that answer several yes/no questions (asaas.offtopic): label name -> score in
    #: (0, 1) per position, written to ``label_predictions`` instead of ``predictions``.
    label_scores: dict[str, np.ndarray] | None = None

    def predicted_labels(self) -> np.ndarray:
        if self.labels is not None:
            return np.asarray(self.labels, dtype=np.int16)
        return (np.asarray(self.prob_positive, dtype=np.float64) >= 0.5).astype(np.int16)


def effective_recipe(mv: ModelVersion, options: ScoreOptions) -> Recipe:
    """The version's recipe; an explicit different setting is refused, not mixed in.

    One version holding reviews read at 256 tokens and others at 512 would make its metrics a
    blend nobody asked for, so another recipe means another version (`--from`).
    """
    recipe = mv.recipe
    asked = Recipe(options.max_length, options.truncation,
                   None if options.quantize == "none" else options.quantize)
    check_recipe(asked)
    if recipe.max_length is None:  # scikit-learn: reads whole reviews, no recipe to change
        given = [flag for flag, value in (("--max-length", asked.max_length),
                                          ("--truncation", asked.truncation),
                                          ("--quantize", asked.quantize)) if value]
        if given:
            raise ConfigError(f"{mv.label} is a {mv.kind} model that reads whole reviews; "
                              f"drop {', '.join(given)}")
        return recipe
    differs = [
        f"{flag} {want}" for flag, want, have in (
            ("--max-length", asked.max_length, recipe.max_length),
            ("--truncation", asked.truncation, recipe.truncation),
        ) if want is not None and want != have
    ]
    if options.quantize is not None and asked.quantize != recipe.quantize:
        differs.append(f"--quantize {options.quantize}")
    if differs:
        name = f"{mv.name}-{'-'.join(d.split()[-1].replace('+', '') for d in differs)}"
        raise ConfigError(
            f"{mv.label} is scored with {recipe.describe()}; {' '.join(differs)} would mix two "
            f"recipes in one version. Register a variant and score that: `asaas models register "
            f"{name} --from {mv.name}:{mv.version} {' '.join(differs)}`")
    return recipe
