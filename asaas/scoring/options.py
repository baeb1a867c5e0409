"""What a scoring run can be told, what it reports, and the recipe it scores with."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from asaas.errors import ConfigError
from asaas.models.registry import ModelVersion, Recipe, check_recipe

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
class ScoreOptions:
    """Everything ``asaas score`` can be told; defaults are what a user gets without flags.

    ``max_length``, ``truncation`` and ``quantize`` default to the version's recipe (None);
    a different explicit value is refused (see ``effective_recipe``). ``languages`` defaults to
    the languages the version was trained on (None); ``["all"]`` scores every language.
    """

    dataset: str = "imdb"
    splits: list[str] | None = field(default_factory=lambda: ["test"])  # None: every split
    languages: list[str] | None = None
    limit: int | None = None
    max_reviews: int | None = None  # score at most this many in this run; the rest wait
    device: str = "auto"
    batch_tokens: int | None = None
    max_length: int | None = None
    truncation: str | None = None
    quantize: str | None = None  # None: the recipe's | "none" | "int8"
    threads: int | None = None
    chunk_size: int | None = None  # reviews per step [default: DEFAULT_CHUNK by device]
    # Commit every few seconds or this many rows: each DuckDB commit reopens and checkpoints the
    # file (~70 ms here), so 32k-row commits keep writes above 200k rows/s (bench/write_bench.py)
    # while a kill loses at most a few seconds of work.
    commit_every_s: float = 5.0
    commit_rows: int = 32768
    progress: bool = True
    progress_every_s: float = 30.0  # log-line interval when not on a terminal (cron)

    def check(self) -> None:
        """Refuse impossible values before anything is loaded or written."""
        bounds = (("--limit", self.limit, 1), ("--max-reviews", self.max_reviews, 1),
                  ("--batch-tokens", self.batch_tokens, 8),
                  ("--threads", self.threads, 1), ("--chunk-size", self.chunk_size, 1),
                  ("--max-length", self.max_length, 8))
        for name, value, low in bounds:
            if value is not None and value < low:
                raise ConfigError(f"{name} must be at least {low} (got {value})")
        if self.commit_rows < 1 or self.commit_every_s < 0:
            raise ConfigError("commit_rows must be at least 1 and commit_every_s not negative")


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
    """Results for one chunk, in the chunk's order; failed rows carry an error instead."""

    prob_positive: np.ndarray
    n_tokens: list[int | None]
    truncated: list[bool | None]
    errors: dict[int, str] = field(default_factory=dict)  # position in chunk -> reason


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
