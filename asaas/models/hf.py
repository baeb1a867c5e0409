"""Loading Hugging Face sequence classifiers from a local directory or the Hub.

Every model reference may be a Hub id (what users with internet use) or a local directory
(``save_pretrained`` layout). Offline, a Hub id fails within seconds with the fix in the message.
"""

from __future__ import annotations

import json
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
    """The directory for a local reference; raises when a path-like ref is not a model, or
    when the folder would run code of its own (see ``check_folder``)."""
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise ModelLoadError(
                f"{ref} is not a Hugging Face model directory (no config.json); point at a "
                "folder written by save_pretrained"
            )
        check_folder(path, ref)
        return path
    if ref.startswith((".", "/", "~")) or ref.count("/") > 1:
        raise ModelLoadError(f"model path {ref} does not exist; check the path")
    return None


#: Weight files that are pickles (or other formats that can run code when loaded).
PICKLED_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5",
                   "flax_model.msgpack", "model.ckpt.index")
SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")


def _read_json(path: Path, ref: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{ref}: {path.name} is not valid JSON ({exc}); re-save the model "
                             "with save_pretrained") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{ref}: {path.name} is not a JSON object; re-save the model")
    return data


def refuse_remote_code(config: dict[str, Any] | Any, ref: str, source: str = "config.json"
                       ) -> None:
    """A config with ``auto_map`` names Python code shipped with the model, which transformers
    would offer to run: asaas never runs it."""
    auto_map = config.get("auto_map") if isinstance(config, dict) else getattr(
        config, "auto_map", None)
    if auto_map:
        raise ModelLoadError(
            f"{ref} ships its own Python code ({source} has auto_map), which asaas never runs; "
            "use a model whose architecture transformers provides (no auto_map)")


def check_folder(path: Path, ref: str) -> None:
    """Refuse a local model folder that would run its own code: ``auto_map`` in its config or
    tokenizer config."""
    refuse_remote_code(_read_json(path / "config.json", ref), ref)
    tok_config = path / "tokenizer_config.json"
    if tok_config.is_file():
        refuse_remote_code(_read_json(tok_config, ref), ref, "tokenizer_config.json")


def check_weights(path: Path, ref: str) -> None:
    """The folder must hold safetensors weights: pickled ones (pytorch_model.bin...) can run
    code when loaded, so asaas does not load them."""
    if any((path / name).is_file() for name in SAFE_WEIGHTS):
        return
    pickled = [name for name in PICKLED_WEIGHTS if (path / name).is_file()]
    pickled += sorted(p.name for p in path.glob("*.bin") if p.name not in pickled)
    if pickled:
        raise ModelLoadError(
            f"{ref} has only pickled weights ({', '.join(pickled)}), which can run code when "
            "loaded; convert them to model.safetensors (load and save_pretrained them once "
            "in a trusted environment) and point at that folder")
    raise ModelLoadError(f"{ref} has no model weights (model.safetensors); save the model with "
                         "save_pretrained")


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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


def load_config(ref: str, *, revision: str | None = None) -> Any:
    """The model's config (for ``id2label``), without loading weights. Never runs code shipped
    with the model (``trust_remote_code=False``; ``auto_map`` is refused)."""
    from transformers import AutoConfig

    _quiet()
    local = _local_dir(ref)
    if local is None:
        _check_hub(ref)
    try:
        config = AutoConfig.from_pretrained(str(local or ref), trust_remote_code=False,
                                            **_revision(local, revision))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f"cannot load model config for {ref} ({_first(exc)}); pass a folder written by "
            "save_pretrained for a model type transformers knows"
        ) from None
    refuse_remote_code(config, ref)
    return config


def _revision(local: Path | None, revision: str | None) -> dict[str, str]:
    """Hub models load the commit recorded at registration, never whatever main is now."""
    return {"revision": revision} if revision and local is None else {}


def hub_revision(ref: str) -> str | None:
    """The commit the Hub (or its local cache, offline) resolves ``ref`` to now: the
    snapshot folder that config.json was loaded from."""
    from transformers.utils.hub import cached_file, extract_commit_hash

    try:
        return extract_commit_hash(cached_file(ref, "config.json"), None)
    except (OSError, ValueError):
        return None


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.model")


def load_tokenizer(ref: str, *, revision: str | None = None) -> Any:
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
        tok = AutoTokenizer.from_pretrained(str(local or ref), use_fast=True,
                                            trust_remote_code=False,
                                            **_revision(local, revision))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        first = _first(exc)
        raise ModelLoadError(
            f"cannot load the tokenizer of {ref} ({first}); the directory needs tokenizer files "
            "(tokenizer.json or vocab.txt): save them with tokenizer.save_pretrained(DIR)"
        ) from None
    if not getattr(tok, "is_fast", False):
        raise ModelLoadError(f"{ref} has no fast tokenizer (tokenizer.json); asaas needs one")
    return tok


def load_classifier(ref: str, *, num_labels: int | None = None,
                    attn_implementation: str | None = None, revision: str | None = None) -> Any:
    """The sequence classifier in fp32 (bf16 checkpoints are upcast: CPUs here lack bf16).

    Weights load from safetensors only (a pickle can run code), and code shipped with the
    model never runs.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    _quiet()
    local = _local_dir(ref)
    if local is None:
        _check_hub(ref)
    else:
        check_weights(local, ref)
    kwargs: dict[str, Any] = {"dtype": torch.float32, "trust_remote_code": False,
                              "use_safetensors": True, **_revision(local, revision)}
    if num_labels is not None:
        kwargs["num_labels"] = num_labels
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    load_config(ref, revision=revision)  # refuses auto_map and unknown model types first
    try:
        model = AutoModelForSequenceClassification.from_pretrained(str(local or ref), **kwargs)
    except Exception as exc:  # noqa: BLE001 - truncated or foreign files fail in many ways
        # (safetensors' own error, torch's RuntimeError on shapes, OSError, ValueError...)
        raise ModelLoadError(f"cannot load model {ref} ({type(exc).__name__}: {_first(exc)}); "
                             "pass a complete model directory written by save_pretrained"
                             ) from None
    model.eval()
    return model


def load_verified(label: str, ref: str, expected: dict[str, str], *,
                  revision: str | None = None, attn_implementation: str | None = None
                  ) -> tuple[Any, Any]:
    """The tokenizer and classifier of a registered version, loaded from exactly the bytes
    that match its recorded checksums.

    A local folder is hashed while it is copied into a private temporary folder
    (``checksums.verified_copy``) and loaded from that copy: a file swapped in the original
    after the check is never read. A Hub id (no local files) loads the commit pinned at
    registration, as ``load_tokenizer`` and ``load_classifier`` do.
    """
    from asaas.models import checksums

    if not checksums.is_local(ref):
        return (load_tokenizer(ref, revision=revision),
                load_classifier(ref, revision=revision, attn_implementation=attn_implementation))
    with checksums.verified_copy(label, ref, expected) as folder:
        try:
            return (load_tokenizer(str(folder)),
                    load_classifier(str(folder), attn_implementation=attn_implementation))
        except ModelLoadError as exc:  # name the artifact, not the temporary copy
            raise ModelLoadError(str(exc).replace(str(folder), ref)) from None


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
