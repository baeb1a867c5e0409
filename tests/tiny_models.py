"""Tiny random transformer classifiers built from scratch, so tests need no download."""

from __future__ import annotations

from pathlib import Path

WORDS = """the a an and or but not no very really too so is was were be been it this that film
movie story plot acting actor actors scene scenes good great wonderful brilliant loved love
best fun enjoyable bad awful worst terrible boring dull slow long waste hated hate poor i you
he she they we of to in on for with at by from as my his her their one two time minute minutes
watch watched see seen ever year years ticket masterpiece clever funny sad ending end cast music
""".split()


def write_vocab(directory: Path) -> Path:
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789")
    pieces = [f"##{c}" for c in letters]
    punct = list(".,!?'\"-:;()/<>")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + punct + letters + pieces + WORDS
    seen: list[str] = []
    for token in vocab:
        if token not in seen:
            seen.append(token)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "vocab.txt"
    path.write_text("\n".join(seen) + "\n", encoding="utf-8")
    return path


def _tokenizer(cls, vocab_file: Path):
    import inspect

    if "vocab" in inspect.signature(cls.__init__).parameters:  # transformers 5
        vocab = {w: i for i, w in enumerate(vocab_file.read_text(encoding="utf-8").split())}
        return cls(vocab=vocab, do_lower_case=True)
    return cls(vocab_file=str(vocab_file), do_lower_case=True)  # transformers 4


def build_tiny_classifier(directory: Path, arch: str = "bert", *,
                          id2label: dict[int, str] | None = None, seed: int = 0,
                          max_positions: int = 128, init_std: float | None = 0.3) -> Path:
    """Save a ~30k-parameter random sequence classifier with a matching fast tokenizer."""
    import torch
    from transformers import (BertConfig, BertForSequenceClassification, BertTokenizerFast,
                              DistilBertConfig, DistilBertForSequenceClassification)

    id2label = id2label or {0: "NEGATIVE", 1: "POSITIVE"}
    vocab_file = write_vocab(directory)
    tokenizer = _tokenizer(BertTokenizerFast, vocab_file)
    vocab_size = len(vocab_file.read_text().split())
    label2id = {v: k for k, v in id2label.items()}
    torch.manual_seed(seed)
    if arch == "bert":
        config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=37,
                            max_position_embeddings=max_positions, id2label=id2label,
                            label2id=label2id)
        model = BertForSequenceClassification(config)
    elif arch == "distilbert":
        config = DistilBertConfig(vocab_size=vocab_size, dim=32, n_layers=2, n_heads=2,
                                  hidden_dim=37, max_position_embeddings=max_positions,
                                  id2label=id2label, label2id=label2id)
        model = DistilBertForSequenceClassification(config)
    else:
        raise ValueError(arch)
    # Random init around 0.02 gives near-0.5 probabilities; widen it so scores differ visibly
    # (scoring tests). Training tests keep the default init, which learns faster.
    if init_std is not None:
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:
                    p.normal_(0, init_std)
    model.eval()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_tiny_encoder(directory: Path, seed: int = 0) -> Path:
    """A BERT encoder without a classification head (like a base model from the Hub): loading
    it as a classifier initialises a fresh head."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab_file = write_vocab(directory)
    tokenizer = _tokenizer(BertTokenizerFast, vocab_file)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab_file.read_text().split()), hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                        max_position_embeddings=128)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
