"""Loading Hugging Face sequence classifiers from a local directory or the Hub.

Every model reference may be a Hub id (what users with internet use) or a local directory
(``save_pretrained`` layout). Offline, a Hub id fails within seconds with the fix in the message.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asaas.errors import AsaasError, NetworkError
from asaas.hub import hub_offline_requested, hub_reachable


class ModelLoadError(AsaasError):
    """A model directory or Hub id that cannot be loaded."""


def _local_dir(ref: str) -> Path | None:
    """The directory for a local reference; raises when a path-like ref is not a model."""
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise ModelLoadError(
                f"{ref} is not a Hugging Face model directory (no config.json); point at a "
                "folder written by save_pretrained"
            )
        return path
    if ref.startswith((".", "/", "~")) or ref.count("/") > 1:
        raise ModelLoadError(f"model path {ref} does not exist; check the path")
    return None


def _check_hub(ref: str) -> None:
    if hub_offline_requested():
        return  # the libraries will use their cache, or say the model is not cached
    ok, detail = hub_reachable()
    if not ok:
        raise NetworkError(
            f"cannot reach the Hugging Face Hub to load {ref} ({detail}); download it where "
            f"there is internet (`hf download {ref} --local-dir DIR`) and pass the local "
            "directory instead"
        )


def _quiet() -> None:
    # transformers logs "Some weights ... newly initialized" and other notes at WARNING; asaas
    # reports what matters itself.
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="transformers")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # "Loading weights" bars would pollute cron logs
    except ImportError:
        pass


def load_config(ref: str) -> Any:
    """The model's config (for ``id2label``), without loading weights."""
    from transformers import AutoConfig

    _quiet()
    local = _local_dir(ref)
    if local is None:
        _check_hub(ref)
    try:
        return AutoConfig.from_pretrained(str(local or ref))
    except OSError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelLoadError(
            f"cannot load model config for {ref} ({first}); pass a local model directory"
        ) from None


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.model")


def load_tokenizer(ref: str) -> Any:
    from transformers import AutoTokenizer

    _quiet()
    local = _local_dir(ref)
    if local is None:
        _check_hub(ref)
    elif not any((local / name).is_file() for name in TOKENIZER_FILES):
        # transformers 5 would build an empty-vocabulary tokenizer here and score garbage.
        raise ModelLoadError(
            f"{ref} has no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}...); save them "
            "next to the model with tokenizer.save_pretrained(DIR)"
        )
    try:
        tok = AutoTokenizer.from_pretrained(str(local or ref), use_fast=True)
    except (OSError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"cannot load the tokenizer of {ref} ({first}); the directory needs tokenizer files "
            "(tokenizer.json or vocab.txt): save them with tokenizer.save_pretrained(DIR)"
        ) from None
    if not getattr(tok, "is_fast", False):
        raise ModelLoadError(f"{ref} has no fast tokenizer (tokenizer.json); asaas needs one")
    return tok


def load_classifier(ref: str, *, num_labels: int | None = None,
                    attn_implementation: str | None = None) -> Any:
    """The sequence classifier in fp32 (bf16 checkpoints are upcast: CPUs here lack bf16)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    _quiet()
    local = _local_dir(ref)
    if local is None:
        _check_hub(ref)
    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if num_labels is not None:
        kwargs["num_labels"] = num_labels
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    try:
        model = AutoModelForSequenceClassification.from_pretrained(str(local or ref), **kwargs)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load model {ref} ({first}); pass a model directory "
                             "written by save_pretrained") from None
    model.eval()
    return model


# -- encoding -----------------------------------------------------------------------------------

TRUNCATIONS = ("head", "head+tail")
#: Sun et al. (2019): of 510 content tokens keep the first 128 and the last 382.
HEAD_TAIL_HEAD_SHARE = 128 / 510


def special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a single sequence ([CLS] .. [SEP], <s> .. </s>).

    Found by encoding a probe with and without special tokens, which works for any fast
    tokenizer (transformers 5 dropped ``build_inputs_with_special_tokens``).
    """
    probe = "probe"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start:start + len(bare)] == bare:
            return list(full[:start]), list(full[start + len(bare):])
    raise ModelLoadError("cannot locate the special tokens of this tokenizer")



@dataclass
class Encoded:
    input_ids: list[list[int]]
    n_tokens: list[int]  # length before truncation, special tokens included
    truncated: list[bool]


class Encoder:
    """Tokenise without truncation, count, then truncate deliberately and visibly.

    ``head`` keeps the first ``max_length`` tokens; ``head+tail`` keeps the first 128 and the
    last 382 of 510 content tokens (scaled to other lengths), which Sun et al. (2019) found best
    for long reviews. Scoring and fine-tuning share this, so a model sees the same inputs in both.
    """

    def __init__(self, tokenizer: Any, max_length: int, truncation: str = "head") -> None:
        if truncation not in TRUNCATIONS:
            raise ModelLoadError(f"unknown truncation {truncation!r}; use head or head+tail")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.truncation = truncation
        self.prefix, self.suffix = special_tokens(tokenizer)
        self.budget = max_length - len(self.prefix) - len(self.suffix)
        self.head = round(self.budget * HEAD_TAIL_HEAD_SHARE)

    def __call__(self, texts: Sequence[str]) -> Encoded:
        ids = self.tokenizer(list(texts), add_special_tokens=False, truncation=False,
                             return_attention_mask=False, return_token_type_ids=False,
                             verbose=False)["input_ids"]
        n_special = len(self.prefix) + len(self.suffix)
        out, n_tokens, truncated = [], [], []
        for seq in ids:
            n = len(seq) + n_special
            cut = n > self.max_length
            if cut:
                seq = seq[:self.head] + seq[len(seq) - (self.budget - self.head):] \
                    if self.truncation == "head+tail" else seq[:self.budget]
            out.append(self.prefix + list(seq) + self.suffix)
            n_tokens.append(n)
            truncated.append(cut)
        return Encoded(out, n_tokens, truncated)
