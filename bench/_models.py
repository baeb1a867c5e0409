"""Models the benchmarks share: random-weight classifiers with real shapes, and where the data is.

Random weights run at the same speed as trained ones, so speed figures need no download; their
accuracy means nothing. Both use the MiniLM copy's tokenizer (bert-base-uncased's vocabulary,
as distilbert-base-uncased's is).
"""

from __future__ import annotations

import os
from pathlib import Path

# ../shared beside the checkout; ASAAS_SHARED points elsewhere (a copy staged on a GPU machine).
SHARED = Path(os.environ.get("ASAAS_SHARED") or Path(__file__).resolve().parents[2] / "shared")
MINILM = SHARED / "models" / "all-MiniLM-L6-v2-bf16"
RANDOM_MODELS = ("minilm-random", "distilbert-random")


def build_random(kind: str, target: Path) -> Path:
    """Save a 2-label classifier with random weights: MiniLM-L6's shape or DistilBERT-base's."""
    import torch
    from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoTokenizer,
                              DistilBertConfig, DistilBertForSequenceClassification)

    labels = {"id2label": {0: "NEGATIVE", 1: "POSITIVE"},
              "label2id": {"NEGATIVE": 0, "POSITIVE": 1}}
    torch.manual_seed(0)
    if kind == "minilm-random":
        config = AutoConfig.from_pretrained(MINILM, num_labels=2, **labels)
        model = AutoModelForSequenceClassification.from_config(config)
    elif kind == "distilbert-random":  # distilbert-base-uncased: 6 layers, hidden 768, 66M params
        model = DistilBertForSequenceClassification(DistilBertConfig(**labels))
    else:
        raise ValueError(f"unknown random model {kind!r}; choose from {', '.join(RANDOM_MODELS)}")
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(MINILM).save_pretrained(target)
    return target


def model_dir_for(name: str, tmp: Path) -> str:
    """A real model folder as given, or a freshly built random one for a RANDOM_MODELS name."""
    return str(build_random(name, tmp / name)) if name in RANDOM_MODELS else name


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(0)
    return "cpu"
