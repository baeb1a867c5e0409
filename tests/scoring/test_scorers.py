"""Scorers (asaas/scoring/scorers.py): a batch of texts in, probabilities out, in the order
given; sorted, padded batches give what one review at a time gives, head+tail truncation keeps
both ends, a batch that runs out of memory is split, int8 stays close to fp32."""

from __future__ import annotations

import numpy as np
import torch

from asaas.models.registry import Recipe, register_hf
from asaas.scoring import HFScorer, ScoreOptions
from tests.helpers import select_pending


def test_order_is_restored_within_a_batch(scored_store, tiny_bert):
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    _, ids, texts = select_pending(scored_store, mv, ScoreOptions())
    scorer = HFScorer(mv, ScoreOptions(batch_tokens=100_000), Recipe(64, "head"))
    together = scorer.run(scorer.prepare(texts)).prob_positive
    reversed_ = scorer.run(scorer.prepare(texts[::-1])).prob_positive[::-1]
    singles = np.array([scorer.run(scorer.prepare([t])).prob_positive[0] for t in texts])
    assert np.allclose(together, singles, atol=1e-5)
    assert np.allclose(reversed_, singles, atol=1e-5)


def test_head_tail_truncation_keeps_both_ends(scored_store, tiny_bert):
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    scorer = HFScorer(mv, ScoreOptions(), Recipe(34, "head+tail"))
    text = " ".join(["good"] * 10 + ["film"] * 50 + ["bad"] * 30)
    enc = scorer.prepare([text])
    ids = enc.input_ids[0]
    tok = scorer.tokenizer
    words = tok.convert_ids_to_tokens(ids)
    assert len(ids) == 34 and enc.truncated == [True] and enc.n_tokens == [92]
    assert words[0] == "[CLS]" and words[-1] == "[SEP]"
    assert words[1:9] == ["good"] * 8  # head: round(32 * 128 / 510) = 8 tokens
    assert words[9:33] == ["bad"] * 24  # tail: the last 24 tokens
    head_only = HFScorer(mv, ScoreOptions(), Recipe(34, "head")).prepare([text]).input_ids[0]
    assert tok.convert_ids_to_tokens(head_only)[1:33] == ["good"] * 10 + ["film"] * 22


def test_out_of_memory_halves_the_budget_and_loses_nothing(scored_store, tiny_bert,
                                                            monkeypatch):
    """A batch that runs out of memory is split and retried at half the token budget; every
    review still gets the probability it gets when scored alone, in the right place."""
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    _, ids, texts = select_pending(scored_store, mv, ScoreOptions())
    real_forward = HFScorer._forward
    widths: list[int] = []

    def forward(self, seqs):
        cells = len(seqs) * max(len(s) for s in seqs)
        if cells > 300:  # pretend the device holds only 300 tokens at once
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        widths.append(cells)
        return real_forward(self, seqs)

    scorer = HFScorer(mv, ScoreOptions(batch_tokens=4096), Recipe(64, "head"))
    monkeypatch.setattr(HFScorer, "_forward", forward)
    result = scorer.run(scorer.prepare(texts))
    monkeypatch.setattr(HFScorer, "_forward", real_forward)
    assert not result.errors and not np.isnan(result.prob_positive).any()
    assert scorer.batch_tokens < 4096 and max(widths) <= 300
    singles = np.array([scorer.run(scorer.prepare([t])).prob_positive[0] for t in texts])
    assert np.allclose(result.prob_positive, singles, atol=1e-5)


def test_int8_quantisation_scores_close_to_fp32(scored_store, tiny_bert):
    mv = register_hf(scored_store, "tiny", str(tiny_bert))
    _, _, texts = select_pending(scored_store, mv, ScoreOptions())
    fp32 = HFScorer(mv, ScoreOptions(), Recipe(64, "head"))
    int8 = HFScorer(mv, ScoreOptions(), Recipe(64, "head", "int8"))
    a = fp32.run(fp32.prepare(texts)).prob_positive
    b = int8.run(int8.prepare(texts)).prob_positive
    # Random weights quantise worse than trained ones; the real accuracy cost is in bench/.
    assert not np.allclose(a, b, atol=1e-7)  # it really ran a different (quantised) model
    assert np.mean(np.abs(a - b)) < 0.05
    assert np.mean((a >= 0.5) == (b >= 0.5)) >= 0.9
