"""Scorers: a model version in, a batch of review texts (and their languages) in, probabilities
out.

A scorer has ``device``, ``prepare(texts, languages)`` (runs on the engine's helper thread: read
and tokenise, never touch the model) and ``run(prepared) -> Scored``. ``languages`` holds each
review's ``reviews.language`` (None where the source records none); models that read one
language ignore it, multilingual ones use it for a threshold per language.

Scorers are registered by model kind (``register_scorer``): ``sklearn`` (a scikit-learn
pipeline, ``SklearnScorer``) and ``hf`` (a Hugging Face sequence classifier behind a
length-sorted, token-budget batch loop, ``HFScorer``) here; other kinds register from their own
module, named in ``KIND_MODULES`` so that it is imported on first use. ``load_scorer`` picks the
scorer for a version and its recipe. Every engine (the local loop, Ray actors) scores through
these.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from asaas.errors import AsaasError, ConfigError
from asaas.models import hf
from asaas.models.hf import TRUNCATIONS
from asaas.models.registry import ModelVersion, Recipe
from asaas.scoring.options import (DEFAULT_BATCH_TOKENS, MAX_BATCH_SEQUENCES, ScoreOptions,
                                   Scored, effective_recipe)

log = logging.getLogger(__name__)


# -- choosing a device -------------------------------------------------------------------------


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("CUDA is not available on this machine; use --device cpu (or auto)")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ConfigError(f"unknown device {device!r}; use auto, cpu or cuda")
    return device


# -- scorers -----------------------------------------------------------------------------------


class SklearnScorer:
    """A scikit-learn pipeline with ``predict_proba`` (text in, class probabilities out)."""

    device = "cpu"

    def __init__(self, mv: ModelVersion) -> None:
        from asaas.models.sklearn_models import PIPELINE_FILE, load_pipeline

        # The pickle is checked against its recorded checksum in memory, right before it is
        # unpickled, so it cannot be swapped between the check and the load.
        name = PIPELINE_FILE if PIPELINE_FILE in mv.artifact_sha256 else next(
            iter(mv.artifact_sha256), PIPELINE_FILE)
        self.pipeline = load_pipeline(mv.artifact_uri,
                                      expected_sha256=mv.artifact_sha256.get(name))
        classes = list(self.pipeline.classes_)
        if 1 not in classes:
            raise AsaasError(f"{mv.label} has classes {classes}, none of them 1 (positive)")
        self.positive = classes.index(1)

    def prepare(self, texts: Sequence[str],
                languages: Sequence[str | None] | None = None) -> Sequence[str]:
        return texts

    def run(self, texts: Sequence[str]) -> Scored:
        try:
            probs = self.pipeline.predict_proba(list(texts))[:, self.positive]
            return Scored(np.asarray(probs, dtype=np.float64), [None] * len(texts),
                          [None] * len(texts))
        except Exception:  # noqa: BLE001 - isolate the bad rows, see module docstring
            out = np.zeros(len(texts))
            errors: dict[int, str] = {}
            for i, text in enumerate(texts):
                try:
                    out[i] = self.pipeline.predict_proba([text])[0, self.positive]
                except Exception as exc:  # noqa: BLE001
                    errors[i] = f"{type(exc).__name__}: {exc}"[:500]
            return Scored(out, [None] * len(texts), [None] * len(texts), errors)


class HFScorer:
    """A Hugging Face sequence classifier behind the length-sorted, token-budget batch loop.
    ``on_batch(n)``, when set, hears of each batch of n reviews done (progress inside a chunk,
    which takes minutes on a CPU)."""

    on_batch: Callable[[int], None] | None = None

    def __init__(self, mv: ModelVersion, options: ScoreOptions,
                 recipe: Recipe | None = None) -> None:
        import torch

        from asaas.models import labels

        self.torch = torch
        recipe = recipe or effective_recipe(mv, options)
        self.recipe = recipe
        self.device = resolve_device(options.device)
        if recipe.truncation not in TRUNCATIONS:
            raise ConfigError(f"unknown truncation {recipe.truncation!r}; use head or head+tail")
        if recipe.quantize and self.device != "cpu":
            raise ConfigError(f"{mv.label} is scored with int8 quantisation, which is for CPU "
                              "scoring: use --device cpu, or register a variant without it "
                              f"(`asaas models register NAME --from {mv.name}:{mv.version} "
                              "--quantize none`)")
        if self.device == "cpu" and options.threads:
            torch.set_num_threads(options.threads)
        self.rule = labels.LabelRule.from_params(mv.params) if "label_rule" in mv.params else None
        revision = mv.params.get("hf_revision")  # Hub models: the commit pinned at registration
        on_cuda = self.device.startswith("cuda")
        # Loaded from a private copy of exactly the bytes that match the recorded checksums.
        self.tokenizer, model = hf.load_verified(mv.label, mv.artifact_uri, mv.artifact_sha256,
                                                 revision=revision,
                                                 attn_implementation="sdpa" if on_cuda else None)
        if self.rule is None:
            self.rule = labels.resolve(model.config.id2label, mv.params.get("positive_label"))
        if recipe.quantize == "int8":
            model = _quantize_int8(model)
        self.model = model.to(self.device)
        limit = getattr(model.config, "max_position_embeddings", 512) or 512
        self.max_length = min(recipe.max_length or limit, limit)
        self.batch_tokens = options.batch_tokens or DEFAULT_BATCH_TOKENS["cuda" if on_cuda
                                                                        else "cpu"]
        if self.batch_tokens < self.max_length:
            raise ConfigError(f"--batch-tokens {self.batch_tokens} is below the "
                              f"{self.max_length} tokens {mv.label} reads per review; raise it")
        self.encoder = hf.Encoder(self.tokenizer, self.max_length, recipe.truncation)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def prepare(self, texts: Sequence[str],
                languages: Sequence[str | None] | None = None) -> hf.Encoded:
        """Tokenise (runs on the helper thread: it must not touch the model)."""
        return self.encoder(texts)

    def _batches(self, order: Sequence[int], lengths: Sequence[int]) -> Iterator[list[int]]:
        """Greedy packing of length-sorted positions under the token budget."""
        batch: list[int] = []
        longest = 0
        for pos in order:
            longest_if = max(longest, lengths[pos])
            if batch and (longest_if * (len(batch) + 1) > self.batch_tokens
                          or len(batch) >= MAX_BATCH_SEQUENCES):
                yield batch
                batch, longest_if = [], lengths[pos]
            batch.append(pos)
            longest = longest_if
        if batch:
            yield batch

    def _forward(self, seqs: list[list[int]]) -> Any:
        torch = self.torch
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, s in enumerate(seqs):
            ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[row, : len(s)] = 1
        if self.device.startswith("cuda"):
            ids = ids.pin_memory().to(self.device, non_blocking=True)
            mask = mask.pin_memory().to(self.device, non_blocking=True)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = self.model(input_ids=ids, attention_mask=mask).logits
        else:
            logits = self.model(input_ids=ids, attention_mask=mask).logits
        return logits.float().softmax(dim=-1)

    def _is_oom(self, exc: BaseException) -> bool:
        return isinstance(exc, self.torch.OutOfMemoryError) or "out of memory" in str(exc)

    def run(self, enc: hf.Encoded) -> Scored:
        torch = self.torch
        n = len(enc.input_ids)
        lengths = [len(s) for s in enc.input_ids]
        order = sorted(range(n), key=lambda i: -lengths[i])  # longest first: OOM shows early
        pending: list[list[int]] = list(self._batches(order, lengths))
        done: list[tuple[list[int], Any]] = []
        errors: dict[int, str] = {}
        with torch.inference_mode():
            while pending:
                batch = pending.pop(0)
                try:
                    done.append((batch, self._forward([enc.input_ids[i] for i in batch])))
                    if self.on_batch is not None:
                        self.on_batch(len(batch))
                except Exception as exc:  # noqa: BLE001 - OOM splits; anything else isolates rows
                    if self._is_oom(exc) and len(batch) > 1:
                        if self.device.startswith("cuda"):
                            torch.cuda.empty_cache()
                        self.batch_tokens = max(self.max_length, self.batch_tokens // 2)
                        log.warning("out of memory: token budget halved to %d", self.batch_tokens)
                        half = len(batch) // 2
                        pending[:0] = [batch[:half], batch[half:]]
                        continue
                    if len(batch) > 1:
                        pending[:0] = [[i] for i in batch]
                        continue
                    errors[batch[0]] = f"{type(exc).__name__}: {exc}"[:500]
        probs = np.full(n, np.nan)
        for batch, p in done:  # one device->host copy per batch, after all work is queued
            rows = p.cpu().numpy()
            probs[batch] = self.rule.prob_positive(rows)
        return Scored(probs, list(enc.n_tokens), list(enc.truncated), errors)


#: Linear layers kept in fp32 under --quantize int8: the classification head is tiny and sits
#: right before the decision, so its rounding costs accuracy for no speed.
KEEP_FP32 = ("classifier", "pre_classifier", "pooler", "score")


def _quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantisation of the encoder's linear layers, per output channel.

    Per-channel scales track each row's range; on a MiniLM classifier over 600 IMDB reviews they
    agreed with fp32 on 97.0% of labels against 95.8% for per-tensor scales, at the same 2x speed.
    """
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notices
        quantized = quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                     dtype=torch.qint8)
    # Put the fp32 head back (quantize_dynamic copied the model, so the originals are intact).
    for name, module in model.named_modules():
        if name and name.split(".")[-1] in KEEP_FP32:
            parent, _, attr = name.rpartition(".")
            setattr(quantized.get_submodule(parent) if parent else quantized, attr, module)
    return quantized


# -- the registry of scorers by model kind -------------------------------------------------------


class Scorer(Protocol):
    """What the engines call (see the module docstring)."""

    device: str

    def prepare(self, texts: Sequence[str],
                languages: Sequence[str | None] | None = None) -> Any: ...

    def run(self, prepared: Any) -> Scored: ...


#: Builds the scorer of a version: (version, options, its effective recipe) -> scorer.
ScorerFactory = Callable[[ModelVersion, ScoreOptions, Recipe], Scorer]


@dataclass(frozen=True)
class ScorerKind:
    factory: ScorerFactory
    #: Whether the kind can run on CUDA (else CPU only: --device cuda is refused).
    gpu: bool = False


SCORERS: dict[str, ScorerKind] = {}

#: Kinds whose scorer registers itself from its own module, imported when a version of that
#: kind is first scored (so that `asaas score` of a transformer does not import them).
KIND_MODULES: dict[str, str] = {
    "tfidf-multi": "asaas.scoring.multilingual",
    "e5-stack": "asaas.scoring.multilingual",
    "offtopic": "asaas.offtopic.scorer",
}


def register_scorer(kind: str, factory: ScorerFactory, *, gpu: bool = False) -> None:
    """Make versions of ``kind`` scoreable: ``factory(mv, options, recipe)`` builds the
    scorer. Called at import by the module that defines the kind."""
    SCORERS[kind] = ScorerKind(factory, gpu)


def scorer_kind(mv: ModelVersion) -> ScorerKind:
    """The registered scorer of ``mv``'s kind (importing its module if needed)."""
    if mv.kind not in SCORERS and mv.kind in KIND_MODULES:
        importlib.import_module(KIND_MODULES[mv.kind])
    try:
        return SCORERS[mv.kind]
    except KeyError:
        raise AsaasError(f"{mv.label} has unknown kind {mv.kind!r} (this asaas scores "
                         f"{', '.join(sorted(set(SCORERS) | set(KIND_MODULES)))}); upgrade "
                         "asaas") from None


register_scorer("sklearn", lambda mv, options, recipe: SklearnScorer(mv))
register_scorer("hf", lambda mv, options, recipe: HFScorer(mv, options, recipe), gpu=True)


def check_device(mv: ModelVersion, device: str) -> None:
    """Refuse a device the version cannot run on here, before anything is read or loaded."""
    if scorer_kind(mv).gpu:
        resolve_device(device)
    elif device not in ("auto", "cpu"):
        what = "a scikit-learn model" if mv.kind == "sklearn" else f"a {mv.kind} model"
        raise ConfigError(f"{mv.label} is {what} and runs on CPU; drop --device")


def load_scorer(mv: ModelVersion, options: ScoreOptions) -> Scorer:
    """The scorer for a version, with its recipe (model in, texts in, probabilities out).

    Both engines use this: the local loop and each Ray actor hold one scorer, so they cannot
    drift apart. Only a version whose registry row passed ``registry.check_signature`` is
    loaded (the engines call it with the store, before anything is read; Ray actors get the
    driver's checked copy), and its files are checked against the checksums recorded at
    registration first: a changed, missing or added file is a one-line refusal naming it.
    """
    from asaas.models.registry import RegistrySignatureError, verify_artifact

    if not mv.signature_checked:
        raise RegistrySignatureError(f"{mv.label} was not checked against the registry key "
                                     "(registry.check_signature) before loading; refusing it")
    kind = scorer_kind(mv)
    recipe = effective_recipe(mv, options)
    verify_artifact(mv)
    check_device(mv, options.device)
    return kind.factory(mv, options, recipe)
