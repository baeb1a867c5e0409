"""Fine-tune a pretrained encoder as a sentiment classifier on ingested, labelled reviews.

A plain PyTorch loop rather than ``Trainer``, so that it can do exactly what asaas needs:
- the same deliberate truncation as scoring (``head`` or ``head+tail``), via ``hf.Encoder``;
- length-grouped batches: shuffle, cut into pools of 50 batches, sort each pool by length, batch,
  shuffle the batches; padding then costs little and the order is still random;
- bf16 autocast and fused AdamW on CUDA; fp32 on CPU (CPUs without AVX512-BF16 get slower);
- seeded and reproducible: the data order depends only on the seed, and the RNG state is saved;
- checkpoints at the end of every epoch and every ``checkpoint_minutes``, from which ``--resume``
  continues mid-epoch;
- a standard ``save_pretrained`` directory (model and tokenizer), registered as a new version
  only after it is completely written.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asaas.errors import ConfigError
from asaas.models import hf, registry
from asaas.models.registry import ModelVersion
from asaas.progress import Progress
from asaas.store import Store
from asaas.training.artifacts import staged_artifact
from asaas.training.data import load_training_data


DEFAULT_BASE = "distilbert-base-uncased"
POOL_BATCHES = 50
LOSS_READ_EVERY = 16  # steps between reads of the loss off the device


@dataclass
class FinetuneOptions:
    """Defaults follow the reference notebook: lr 2e-5, batch 16, 1 epoch, max length 512."""

    base: str = DEFAULT_BASE
    name: str = "finetuned"
    train_dataset: str = "imdb"
    limit: int | None = None
    max_length: int = 512
    epochs: int = 1
    batch_size: int = 16
    lr: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    seed: int = 42
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


def _set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A resume checkpoint, read with ``weights_only=True``: tensors, numbers, strings and
    containers only, so a checkpoint file swapped under ASAAS_HOME cannot run code."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"cannot read the checkpoint {path} ({first}); delete it to start "
                          "from the beginning, or train without --resume") from None


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int, epoch: int
                           ) -> list[list[int]]:
    """Random order, but each batch holds similar lengths (pools of POOL_BATCHES batches)."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths)).tolist()
    pool = batch_size * POOL_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: -lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    perm = rng.permutation(len(batches)).tolist()
    return [batches[i] for i in perm]


def _run_key(opts: FinetuneOptions, fingerprint: str) -> str:
    relevant = {k: v for k, v in asdict(opts).items()
                if k not in ("device", "threads", "checkpoint_minutes", "resume", "progress",
                             "skip_existing")}
    for newer in ("languages", "class_weight"):
        if relevant.get(newer) is None:
            relevant.pop(newer, None)  # keeps keys of runs made before the option existed
    blob = json.dumps({**relevant, "data": fingerprint}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def finetune(store: Store, home: Path, opts: FinetuneOptions,
             log_stream: Any = None) -> ModelVersion:
    """Fine-tune ``opts.base`` on the train split of ``opts.train_dataset``; register the result."""
    import torch

    from asaas.scoring import resolve_device

    out = log_stream or sys.stderr
    registry.check_name(opts.name)
    opts.check()
    device = resolve_device(opts.device)
    on_cuda = device.startswith("cuda")
    if not on_cuda and opts.threads:
        torch.set_num_threads(opts.threads)

    data = load_training_data(store, opts.train_dataset, "train", opts.limit, opts.languages)
    recipe_key = _run_key(opts, data.fingerprint)
    if opts.skip_existing:
        existing = registry.find_by_recipe(store, opts.name, recipe_key)
        if existing is not None:
            return existing
    tokenizer = hf.load_tokenizer(opts.base)
    # Seed before the model is built: an encoder without a classification head gets a freshly
    # initialised one while loading, and that draws from the RNG too.
    _set_seed(opts.seed)
    model = hf.load_classifier(opts.base, num_labels=2,
                               attn_implementation="sdpa" if on_cuda else None)
    model.config.id2label = {0: "NEGATIVE", 1: "POSITIVE"}
    model.config.label2id = {"NEGATIVE": 0, "POSITIVE": 1}
    limit = getattr(model.config, "max_position_embeddings", 512) or 512
    max_length = min(opts.max_length, limit)
    encoder = hf.Encoder(tokenizer, max_length, opts.truncation)
    t_tok = time.perf_counter()
    enc = encoder(data.texts)
    tok_seconds = time.perf_counter() - t_tok
    labels = torch.tensor(data.labels, dtype=torch.long)
    # n / (2 n_c) per class c ("balanced", as scikit-learn defines it), or no weights.
    class_weights = None
    if opts.class_weight == "balanced":
        counts = torch.bincount(labels, minlength=2).clamp(min=1).double()
        class_weights = (len(labels) / (2 * counts)).float().to(device)
    lengths = [len(s) for s in enc.input_ids]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    _set_seed(opts.seed)  # again: tokenising above must not shift dropout and data order
    model.to(device)
    model.train()
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
         "weight_decay": opts.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=opts.lr, fused=on_cuda)
    steps_per_epoch = math.ceil(len(data) / opts.batch_size)
    total_steps = steps_per_epoch * opts.epochs
    warmup = int(total_steps * opts.warmup_ratio)

    def lr_lambda(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)

    ckpt_dir = home / "checkpoints" / f"{opts.name}-{recipe_key}"
    start_epoch, start_step, history = 0, 0, []
    # Running totals a checkpoint carries, so that a resumed run reports the whole run's loss,
    # rows, tokens and training time, not only the part after the resume.
    totals = {"epoch_loss": 0.0, "epoch_n": 0, "seen_rows": 0, "seen_tokens": 0, "elapsed": 0.0}
    if opts.resume and (ckpt_dir / "state.pt").is_file():
        state = load_checkpoint(ckpt_dir / "state.pt")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, start_step, history = state["epoch"], state["step"], state["history"]
        totals.update(state.get("totals", {}))
        if start_step == 0:  # saved at an epoch's end: the next epoch starts from nothing
            totals.update(epoch_loss=0.0, epoch_n=0)
        out.write(f"resuming {opts.name} from epoch {start_epoch + 1}, step {start_step} "
                  f"({ckpt_dir})\n")
    elif opts.resume:
        out.write(f"no checkpoint to resume at {ckpt_dir}; starting from the beginning\n")

    def save_checkpoint(epoch: int, step: int) -> None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        tmp = ckpt_dir / "state.pt.tmp"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                    "epoch": epoch, "step": step, "history": history,
                    "totals": {"epoch_loss": epoch_loss, "epoch_n": epoch_n,
                               "seen_rows": seen_rows, "seen_tokens": seen_tokens,
                               "elapsed": totals["elapsed"] + time.perf_counter() - t_train}},
                   tmp)
        tmp.replace(ckpt_dir / "state.pt")  # atomic: a kill mid-save keeps the previous one

    t_train = time.perf_counter()
    last_ckpt = t_train
    seen_rows, seen_tokens = totals["seen_rows"], totals["seen_tokens"]
    loss_ema: float | None = None
    for epoch in range(start_epoch, opts.epochs):
        batches = length_grouped_batches(lengths, opts.batch_size, opts.seed, epoch)
        first = start_step if epoch == start_epoch else 0
        progress = Progress(len(batches) - first, f"train {opts.name} epoch {epoch + 1}",
                            unit="batches", stream=out, enabled=opts.progress)
        epoch_loss, epoch_n = ((totals["epoch_loss"], totals["epoch_n"])
                               if epoch == start_epoch else (0.0, 0))
        pending: list[tuple[Any, int]] = []
        for step in range(first, len(batches)):
            batch = batches[step]
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, :lengths[i]] = torch.tensor(enc.input_ids[i])
                mask[row, :lengths[i]] = 1
            y = labels[batch]
            if on_cuda:
                ids, mask, y = (t.pin_memory().to(device, non_blocking=True)
                                for t in (ids, mask, y))
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    logits = model(input_ids=ids, attention_mask=mask).logits
            else:
                logits = model(input_ids=ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), y, weight=class_weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            # Reading the loss each step would make the CPU wait for the GPU every step, so
            # losses stay on the device and are read in groups (always on a checkpoint).
            pending.append((loss.detach(), len(batch)))
            seen_rows += len(batch)
            seen_tokens += sum(lengths[i] for i in batch)
            due = time.perf_counter() - last_ckpt >= opts.checkpoint_minutes * 60
            if len(pending) >= LOSS_READ_EVERY or due or step == len(batches) - 1:
                values = torch.stack([v for v, _ in pending]).float().tolist()
                for value, (_, n) in zip(values, pending):
                    loss_ema = value if loss_ema is None else 0.98 * loss_ema + 0.02 * value
                    epoch_loss += value * n
                    epoch_n += n
                pending.clear()
                progress.label = f"train {opts.name} epoch {epoch + 1} loss {loss_ema:.4f}"
            progress.update(1)
            if due:
                save_checkpoint(epoch, step + 1)
                last_ckpt = time.perf_counter()
        progress.close()
        history.append({"epoch": epoch + 1, "train_loss": epoch_loss / max(1, epoch_n)})
        save_checkpoint(epoch + 1, 0)
        out.write(f"epoch {epoch + 1}: mean train loss {history[-1]['train_loss']:.4f}\n")

    seconds = totals["elapsed"] + time.perf_counter() - t_train
    metrics = {
        "train_rows": len(data), "rows_seen": seen_rows, "train_seconds": round(seconds, 1),
        "tokenize_seconds": round(tok_seconds, 1),
        "rows_per_second": round(seen_rows / seconds, 2) if seconds else None,
        "tokens_per_second": round(seen_tokens / seconds, 1) if seconds else None,
        "history": history, "truncated_share": round(sum(enc.truncated) / len(data), 4),
        "device": torch.cuda.get_device_name(0) if on_cuda else "cpu",
    }
    out.write(f"trained on {len(data):,} reviews in {seconds:.1f} s "
              f"({metrics['rows_per_second']} reviews/s, {metrics['tokens_per_second']} "
              f"tokens/s) on {metrics['device']}\n")
    params = {**{k: v for k, v in asdict(opts).items()
                 if k not in ("resume", "progress", "skip_existing")},
              "recipe_key": recipe_key, "max_length": max_length, "label_rule": "binary",
              "languages": data.languages,
              "label_weights": [0.0, 1.0], "positive_index": 1, "negative_index": 0,
              "label_description": "positive = POSITIVE"}
    model.eval()
    with staged_artifact(home, opts.name) as (tmp, commit):
        model.to("cpu").save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "asaas.json").write_text(json.dumps({"params": params, "metrics": metrics},
                                                   indent=2, default=str))
        final = commit()
        # Scored the way it was trained: same length, same truncation (see Recipe).
        recipe = registry.Recipe(max_length, opts.truncation, None)
        mv = registry.register(store, opts.name, kind="hf", artifact_uri=str(final),
                               params=params, train_dataset=opts.train_dataset,
                               train_split=data.split, recipe=recipe,
                               train_fingerprint=data.fingerprint, metrics=metrics)
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # the finished model supersedes its checkpoints
    return mv
