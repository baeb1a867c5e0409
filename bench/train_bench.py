"""Training benchmark: `asaas train finetuned` against the usual way, same model, same reviews.

The usual way is what the reference notebook did: Hugging Face ``Trainer`` with its defaults
(fp32, random batches padded by ``DataCollatorWithPadding``, AdamW) at the notebook's settings
(batch 16, lr 2e-5, 1 epoch), reviews tokenised with ``truncation=True, max_length=512``.
asaas: the `asaas train finetuned` loop (length-grouped batches; bf16 autocast and fused AdamW on
CUDA). Both are timed over the training loop alone; tokenising is reported on its own. The epoch
time is the measured rate extrapolated to the 25,000 IMDB train reviews.

    python bench/train_bench.py --model-dir minilm-random --reviews 200 --usual-reviews 200
    python bench/train_bench.py --model-dir distilbert-random --device cuda --reviews 25000 \\
        --usual-reviews 4000

``--model-dir`` takes an HF folder or ``minilm-random`` / ``distilbert-random`` (random weights:
the speed is a trained model's; the loss then means little). Needs ``accelerate`` for Trainer
(``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

from asaas.ingest import ingest
from asaas.store import open_store
from asaas.training.data import load_training_data
from asaas.training.finetune import FinetuneOptions, finetune

from _models import SHARED, device_name, model_dir_for

IMDB_TRAIN = 25_000


def asaas_way(store, home: Path, model_dir: str, args) -> dict:
    opts = FinetuneOptions(base=model_dir, name="bench", limit=args.reviews,
                           max_length=args.max_length, batch_size=args.batch_size, lr=2e-5,
                           device=args.device, truncation=args.truncation, progress=False,
                           checkpoint_minutes=1e9)
    t0 = time.perf_counter()
    mv = finetune(store, home, opts, log_stream=io.StringIO())
    wall = time.perf_counter() - t0
    m = mv.metrics
    return {"reviews": m["train_rows"], "loop_seconds": m["train_seconds"],
            "tokenize_seconds": m["tokenize_seconds"], "wall_seconds": round(wall, 1),
            "reviews_per_s": round(m["train_rows"] / m["train_seconds"], 1),
            "final_train_loss": round(m["history"][-1]["train_loss"], 4)}


def usual_way(model_dir: str, texts: list[str], labels: list[int], args, tmp: Path) -> dict:
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer,
                              DataCollatorWithPadding, Trainer, TrainingArguments)

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2,
                                                               dtype=torch.float32)
    t0 = time.perf_counter()
    enc = tokenizer(texts, truncation=True, max_length=args.max_length)
    # A plain list of feature dicts is a map-style dataset to Trainer (no `datasets` needed).
    ds = [{"input_ids": ids, "attention_mask": mask, "labels": label}
          for ids, mask, label in zip(enc["input_ids"], enc["attention_mask"], labels)]
    tok_seconds = time.perf_counter() - t0
    targs = TrainingArguments(output_dir=str(tmp / "trainer"), per_device_train_batch_size=
                              args.batch_size, num_train_epochs=1, learning_rate=2e-5,
                              save_strategy="no", report_to="none", disable_tqdm=True,
                              logging_strategy="no", use_cpu=args.device == "cpu", seed=42)
    trainer = Trainer(model=model, args=targs, train_dataset=ds,
                      data_collator=DataCollatorWithPadding(tokenizer))
    t0 = time.perf_counter()
    result = trainer.train()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    loop = time.perf_counter() - t0
    return {"reviews": len(texts), "loop_seconds": round(loop, 1),
            "tokenize_seconds": round(tok_seconds, 1),
            "reviews_per_s": round(len(texts) / loop, 1),
            "final_train_loss": round(result.training_loss, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True,
                        help="HF model folder, or minilm-random / distilbert-random")
    parser.add_argument("--source", default=str(SHARED / "data" / "imdb" / "train.parquet"))
    parser.add_argument("--reviews", type=int, default=200, help="reviews asaas trains on")
    parser.add_argument("--usual-reviews", type=int, default=None,
                        help="reviews the usual way trains on (default: --reviews); a rate "
                             "needs fewer when it is slow")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--truncation", default="head", choices=["head", "head+tail"])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--skip-usual", action="store_true")
    parser.add_argument("--json", default=None, help="write the figures to this file too")
    args = parser.parse_args()

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model_dir = model_dir_for(args.model_dir, tmp)
        store = open_store(str(tmp / "bench.duckdb"))
        ingest(store, args.source, splits=["train"])
        results["asaas"] = asaas_way(store, tmp / "home", model_dir, args)
        if not args.skip_usual:
            data = load_training_data(store, "imdb", "train", args.usual_reviews or args.reviews)
            results["usual (Trainer)"] = usual_way(model_dir, data.texts, data.labels, args, tmp)

    print(f"fine-tuning {args.model_dir}, max length {args.max_length}, batch {args.batch_size}, "
          f"device {device_name(args.device)}")
    base = results.get("usual (Trainer)")
    for name, r in results.items():
        ratio = f"{r['reviews_per_s'] / base['reviews_per_s']:.2f}x" if base else "-"
        epoch = IMDB_TRAIN / r["reviews_per_s"]
        print(f"  {name:16s} {r['reviews']:6,} reviews in {r['loop_seconds']:8.1f} s "
              f"({r['reviews_per_s']:8.1f} reviews/s, tokenising {r['tokenize_seconds']} s) "
              f"-> one 25k epoch {epoch:8.1f} s  loss {r['final_train_loss']}  vs usual {ratio}")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device_name(args.device),
                                               "args": vars(args), "results": results},
                                              indent=2))


if __name__ == "__main__":
    main()
