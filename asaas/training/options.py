"""Training options: every setting of ``asaas train`` with its one default, read by the command
line (its defaults and help) and by the training code alike.

Kept apart from the training code so that the command line can read the defaults without loading
torch, transformers or scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from asaas.errors import ConfigError
from asaas.settings import DEFAULT_DATASET

#: The encoder ``asaas train finetuned`` fine-tunes when no --base is given.
DEFAULT_BASE = "distilbert-base-uncased"

#: The seed of every training run when no --seed is given.
DEFAULT_SEED = 42


@dataclass
class FinetuneOptions:
    """Defaults follow the reference notebook: lr 2e-5, batch 16, 1 epoch, max length 512."""

    base: str = DEFAULT_BASE
    name: str = "finetuned"
    train_dataset: str = DEFAULT_DATASET
    limit: int | None = None
    max_length: int = 512
    epochs: int = 1
    batch_size: int = 16
    lr: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    seed: int = DEFAULT_SEED
    device: str = "auto"
    truncation: str = "head"
    languages: list[str] | None = None  # train only on reviews in these languages
    # "balanced": each class weighs in the loss inversely to its frequency (Steam reviews are
    # 94% positive: unweighted, a small fine-tune learns to call everything positive).
    class_weight: str | None = None
    threads: int | None = None
    checkpoint_minutes: float = 10.0
    resume: bool = False
    skip_existing: bool = False  # return the version already trained with this exact recipe
    progress: bool = True

    def check(self) -> None:
        """Refuse impossible values before anything is loaded (one-line ConfigError)."""
        for name, value, low in (("--epochs", self.epochs, 1), ("--batch-size", self.batch_size, 1),
                                 ("--max-length", self.max_length, 8), ("--limit", self.limit, 1),
                                 ("--threads", self.threads, 1)):
            if value is not None and value < low:
                raise ConfigError(f"{name} must be at least {low} (got {value})")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be a positive number (got {self.lr})")
        if not (self.checkpoint_minutes >= 0 and math.isfinite(self.checkpoint_minutes)):
            raise ConfigError(f"--checkpoint-minutes must be 0 (after every step) or more "
                              f"(got {self.checkpoint_minutes})")
        for name, value in (("--weight-decay", self.weight_decay),
                            ("--warmup-ratio", self.warmup_ratio)):
            if not (0 <= value < 1 if name == "--warmup-ratio" else 0 <= value) or \
                    not math.isfinite(value):
                raise ConfigError(f"{name} {value} is out of range")
        if self.class_weight not in (None, "balanced"):
            raise ConfigError(f"--class-weight {self.class_weight!r}: use balanced (or none)")
        check_seed(self.seed)


def check_seed(seed: int) -> None:
    """numpy takes seeds in [0, 2**32): anything else is refused up front, not a traceback."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"--seed {seed} is out of range; use a whole number from 0 to "
                          f"{2**32 - 1}")
