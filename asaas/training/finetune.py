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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from asaas.errors import ConfigError
from asaas.models import hf, registry
from asaas.models.registry import ModelVersion
from asaas.progress import Progress
from asaas.store import Store
from asaas.training.artifacts import staged_artifact
from asaas.training.data import TrainingData, load_training_data
from asaas.training.options import FinetuneOptions


POOL_BATCHES = 50
LOSS_READ_EVERY = 16  # steps between reads of the loss off the device


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
    if not device.startswith("cuda") and opts.threads:
        torch.set_num_threads(opts.threads)

    data = load_training_data(store, opts.train_dataset, "train", opts.limit, opts.languages)
    recipe_key = _run_key(opts, data.fingerprint)
    if opts.skip_existing:
        existing = registry.find_by_recipe(store, opts.name, recipe_key)
        if existing is not None:
            return existing
    ckpt_dir = home / "checkpoints" / f"{opts.name}-{recipe_key}"
    trainer = _Trainer(opts, data, device, ckpt_dir, out)
    trainer.resume()
    trainer.train()
    mv = _register(store, home, trainer, recipe_key)
    shutil.rmtree(ckpt_dir, ignore_errors=True)  # the finished model supersedes its checkpoints
    return mv


def _load_model(opts: FinetuneOptions, on_cuda: bool) -> tuple[Any, Any, int]:
    """Tokenizer, a freshly headed classifier and the length it reads (at most its limit)."""
    tokenizer = hf.load_tokenizer(opts.base)
    # Seed before the model is built: an encoder without a classification head gets a freshly
    # initialised one while loading, and that draws from the RNG too.
    _set_seed(opts.seed)
    model = hf.load_classifier(opts.base, num_labels=2,
                               attn_implementation="sdpa" if on_cuda else None)
    model.config.id2label = {0: "NEGATIVE", 1: "POSITIVE"}
    model.config.label2id = {"NEGATIVE": 0, "POSITIVE": 1}
    limit = getattr(model.config, "max_position_embeddings", 512) or 512
    return tokenizer, model, min(opts.max_length, limit)


def _optimizer(model: Any, opts: FinetuneOptions, total_steps: int, fused: bool
               ) -> tuple[Any, Any]:
    """AdamW without weight decay on biases and norms, and linear warm-up then decay."""
    import torch

    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)],
         "weight_decay": opts.weight_decay},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)],
         "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=opts.lr, fused=fused)
    warmup = int(total_steps * opts.warmup_ratio)

    def lr_lambda(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)


@dataclass
class _Progress:
    """Where a run is and the running totals a checkpoint carries, so that a resumed run
    reports the whole run's loss, rows, tokens and training time, not only its own part."""

    #: The epoch under way and its first step not yet taken.
    epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    #: The epoch's loss so far (sum over rows) and its rows.
    epoch_loss: float = 0.0
    epoch_n: int = 0
    seen_rows: int = 0
    seen_tokens: int = 0
    #: Training seconds of the runs before this one (resumed from a checkpoint).
    elapsed: float = 0.0


#: The running totals a checkpoint keeps under "totals".
_TOTALS = ("epoch_loss", "epoch_n", "seen_rows", "seen_tokens", "elapsed")


class _Trainer:
    """One fine-tuning run: the model with its optimiser and schedule, the tokenised rows, and
    the progress a checkpoint saves (``_Progress``)."""

    def __init__(self, opts: FinetuneOptions, data: TrainingData, device: str, ckpt_dir: Path,
                 out: Any) -> None:
        import torch

        self.opts, self.data, self.device, self.ckpt_dir, self.out = (opts, data, device,
                                                                      ckpt_dir, out)
        self.on_cuda = device.startswith("cuda")
        self.tokenizer, self.model, self.max_length = _load_model(opts, self.on_cuda)
        encoder = hf.Encoder(self.tokenizer, self.max_length, opts.truncation)
        t_tok = time.perf_counter()
        self.enc = encoder(data.texts)
        self.tok_seconds = time.perf_counter() - t_tok
        self.labels = torch.tensor(data.labels, dtype=torch.long)
        # n / (2 n_c) per class c ("balanced", as scikit-learn defines it), or no weights.
        self.class_weights = None
        if opts.class_weight == "balanced":
            counts = torch.bincount(self.labels, minlength=2).clamp(min=1).double()
            self.class_weights = (len(self.labels) / (2 * counts)).float().to(device)
        self.lengths = [len(s) for s in self.enc.input_ids]
        pad_id = self.tokenizer.pad_token_id
        self.pad_id = pad_id if pad_id is not None else 0

        _set_seed(opts.seed)  # again: tokenising above must not shift dropout and data order
        self.model.to(device)
        self.model.train()
        total_steps = math.ceil(len(data) / opts.batch_size) * opts.epochs
        self.optimizer, self.scheduler = _optimizer(self.model, opts, total_steps, self.on_cuda)
        self.progress = _Progress()
        # Restarted when training starts: the clock, the last checkpoint's time, the loss EMA.
        self.t_train = self.last_ckpt = time.perf_counter()
        self.loss_ema: float | None = None

    def resume(self) -> None:
        """With --resume, continue from the checkpoint of this recipe when there is one."""
        import torch

        opts, path = self.opts, self.ckpt_dir / "state.pt"
        if not opts.resume:
            return
        if not path.is_file():
            self.out.write(f"no checkpoint to resume at {self.ckpt_dir}; starting from the "
                           "beginning\n")
            return
        state = load_checkpoint(path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        totals = {k: v for k, v in state.get("totals", {}).items() if k in _TOTALS}
        progress = _Progress(epoch=state["epoch"], step=state["step"], history=state["history"],
                             **totals)
        if progress.step == 0:  # saved at an epoch's end: the next epoch starts from nothing
            progress.epoch_loss, progress.epoch_n = 0.0, 0
        self.progress = progress
        self.out.write(f"resuming {opts.name} from epoch {progress.epoch + 1}, step "
                       f"{progress.step} ({self.ckpt_dir})\n")

    def save_checkpoint(self) -> None:
        """Everything needed to continue from ``progress`` (an atomic replace: a kill
        mid-save keeps the previous checkpoint)."""
        import torch

        p = self.progress
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.ckpt_dir / "state.pt.tmp"
        torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(), "torch_rng": torch.get_rng_state(),
                    "epoch": p.epoch, "step": p.step, "history": p.history,
                    "totals": {**{k: getattr(p, k) for k in _TOTALS},
                               "elapsed": self.seconds()}},
                   tmp)
        tmp.replace(self.ckpt_dir / "state.pt")

    def seconds(self) -> float:
        """Training seconds of the whole run, resumed parts included."""
        return self.progress.elapsed + time.perf_counter() - self.t_train

    def train(self) -> None:
        self.t_train = self.last_ckpt = time.perf_counter()
        self.loss_ema = None
        p = self.progress
        while p.epoch < self.opts.epochs:
            self._epoch()
            p.history.append({"epoch": p.epoch + 1,
                              "train_loss": p.epoch_loss / max(1, p.epoch_n)})
            p.epoch, p.step = p.epoch + 1, 0
            self.save_checkpoint()
            p.epoch_loss, p.epoch_n = 0.0, 0
            self.out.write(f"epoch {p.epoch}: mean train loss "
                           f"{p.history[-1]['train_loss']:.4f}\n")

    def _epoch(self) -> None:
        """The rest of ``progress.epoch``, from ``progress.step`` on."""
        # The training loop proper, kept in one piece (bench/train_bench.py measures it): the
        # batch is padded here, losses stay on the device and are read in groups.
        import torch

        opts, p = self.opts, self.progress
        model, optimizer, scheduler = self.model, self.optimizer, self.scheduler
        lengths, enc, labels, device = self.lengths, self.enc, self.labels, self.device
        epoch, first = p.epoch, p.step
        batches = length_grouped_batches(lengths, opts.batch_size, opts.seed, epoch)
        progress = Progress(len(batches) - first, f"train {opts.name} epoch {epoch + 1}",
                            unit="batches", stream=self.out, enabled=opts.progress)
        pending: list[tuple[Any, int]] = []
        loss_ema = self.loss_ema
        for step in range(first, len(batches)):
            batch = batches[step]
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, :lengths[i]] = torch.tensor(enc.input_ids[i])
                mask[row, :lengths[i]] = 1
            y = labels[batch]
            if self.on_cuda:
                ids, mask, y = (t.pin_memory().to(device, non_blocking=True)
                                for t in (ids, mask, y))
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    logits = model(input_ids=ids, attention_mask=mask).logits
            else:
                logits = model(input_ids=ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), y,
                                                     weight=self.class_weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            # Reading the loss each step would make the CPU wait for the GPU every step, so
            # losses stay on the device and are read in groups (always on a checkpoint).
            pending.append((loss.detach(), len(batch)))
            p.seen_rows += len(batch)
            p.seen_tokens += sum(lengths[i] for i in batch)
            due = time.perf_counter() - self.last_ckpt >= opts.checkpoint_minutes * 60
            if len(pending) >= LOSS_READ_EVERY or due or step == len(batches) - 1:
                values = torch.stack([v for v, _ in pending]).float().tolist()
                for value, (_, n) in zip(values, pending):
                    loss_ema = value if loss_ema is None else 0.98 * loss_ema + 0.02 * value
                    p.epoch_loss += value * n
                    p.epoch_n += n
                pending.clear()
                progress.label = f"train {opts.name} epoch {epoch + 1} loss {loss_ema:.4f}"
            progress.update(1)
            if due:
                p.step = step + 1
                self.save_checkpoint()
                self.last_ckpt = time.perf_counter()
        progress.close()
        self.loss_ema = loss_ema

    def metrics(self) -> dict[str, Any]:
        import torch

        seconds, p, n = self.seconds(), self.progress, len(self.data)
        return {
            "train_rows": n, "rows_seen": p.seen_rows, "train_seconds": round(seconds, 1),
            "tokenize_seconds": round(self.tok_seconds, 1),
            "rows_per_second": round(p.seen_rows / seconds, 2) if seconds else None,
            "tokens_per_second": round(p.seen_tokens / seconds, 1) if seconds else None,
            "history": p.history, "truncated_share": round(sum(self.enc.truncated) / n, 4),
            "device": torch.cuda.get_device_name(0) if self.on_cuda else "cpu",
        }


def _register(store: Store, home: Path, trainer: _Trainer, recipe_key: str) -> ModelVersion:
    """Save the trained model as a standard ``save_pretrained`` folder and register it; nothing
    is registered unless the folder is completely written."""
    opts, data = trainer.opts, trainer.data
    metrics = trainer.metrics()
    trainer.out.write(f"trained on {len(data):,} reviews in {metrics['train_seconds']:.1f} s "
                      f"({metrics['rows_per_second']} reviews/s, "
                      f"{metrics['tokens_per_second']} tokens/s) on {metrics['device']}\n")
    params = {**{k: v for k, v in asdict(opts).items()
                 if k not in ("resume", "progress", "skip_existing")},
              "recipe_key": recipe_key, "max_length": trainer.max_length, "label_rule": "binary",
              "languages": data.languages,
              "label_weights": [0.0, 1.0], "positive_index": 1, "negative_index": 0,
              "label_description": "positive = POSITIVE"}
    model = trainer.model
    model.eval()
    with staged_artifact(home, opts.name) as (tmp, commit):
        model.to("cpu").save_pretrained(tmp)
        trainer.tokenizer.save_pretrained(tmp)
        (tmp / "asaas.json").write_text(json.dumps({"params": params, "metrics": metrics},
                                                   indent=2, default=str))
        final = commit()
        # Scored the way it was trained: same length, same truncation (see Recipe).
        recipe = registry.Recipe(trainer.max_length, opts.truncation, None)
        return registry.register(store, opts.name, kind="hf", artifact_uri=str(final),
                                 params=params, train_dataset=opts.train_dataset,
                                 train_split=data.split, recipe=recipe,
                                 train_fingerprint=data.fingerprint, metrics=metrics)
