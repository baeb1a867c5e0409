"""Progress lines for logs (cron): periodic, stamped, and the final state exactly once."""

from __future__ import annotations

import io
import re

from asaas.progress import Progress


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_final_line_is_not_repeated_when_the_last_update_logged_it():
    out = io.StringIO()
    p = Progress(4, "score x", stream=out, live=False, log_every_s=0)
    p.update(2)
    p.update(2)  # logs 4/4
    p.close()    # nothing new to say
    lines = _lines(out)
    assert len(lines) == 2 and "2/4" in lines[0] and "4/4 reviews (100.0%)" in lines[1]


def test_close_logs_the_final_state_once_when_updates_were_quiet():
    out = io.StringIO()
    p = Progress(4, "score x", stream=out, live=False, log_every_s=3600)
    p.update(4)
    assert _lines(out) == []
    p.close()
    lines = _lines(out)
    assert len(lines) == 1 and lines[0].endswith("ETA 0s") and lines[0][:4].isdigit()


class _Clock:
    """A stand-in for time.perf_counter that the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now


def test_lines_come_on_time_inside_a_long_chunk():
    """A chunk of 512 reviews at 4 a second takes 128 s: lines are due every 60 s, not only
    when the chunk ends (they came every ~140 s, issue 21 item 4)."""
    import asaas.progress as progress_module

    clock = _Clock()
    out = io.StringIO()
    real = progress_module.time
    progress_module.time = clock
    try:
        p = Progress(1024, "score x", stream=out, live=False, log_every_s=60)
        for _chunk in range(2):
            for _batch in range(64):  # 8 reviews a batch, 2 s each
                clock.now += 2
                p.working(8)
            p.update(512)
        p.close()
    finally:
        progress_module.time = real
    lines = _lines(out)
    assert len(lines) == 5  # at 60, 120, 180 and 240 s, and the end (256 s)
    assert "240/1,024 reviews" in lines[0] and "ETA 3m16s" in lines[0]
    assert "1,024/1,024 reviews (100.0%)" in lines[-1]


def test_a_line_before_any_progress_says_the_eta_is_unknown():
    p = Progress(10, "score x", stream=io.StringIO(), live=False)
    assert p.line().endswith("ETA unknown")


def test_scoring_reports_inside_a_chunk(invoke, learnable_source, tiny_bert, monkeypatch):
    """The transformer scorer reports each batch, so a scoring run's log gets its lines on
    time even when one chunk outlasts --progress-every."""
    import asaas.progress as progress_module
    from asaas.scoring.scorers import HFScorer

    assert invoke("ingest", "--source", str(learnable_source(20, 200))).exit_code == 0
    assert invoke("models", "register", "tiny", "--hf", str(tiny_bert), "--max-length",
                  "64").exit_code == 0
    clock = _Clock()
    monkeypatch.setattr(progress_module, "time", clock)
    forward = HFScorer._forward

    def slow_forward(self, seqs):
        clock.now += 20  # each batch takes 20 "seconds"
        return forward(self, seqs)

    monkeypatch.setattr(HFScorer, "_forward", slow_forward)
    result = invoke("score", "--model", "tiny", "--batch-size", "512", "--progress-every",
                    "60", "--batch-tokens", "1024")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "score tiny v1:" in line]
    # One chunk of 200 reviews, 20 "seconds" a batch: a line mid-chunk, at most one batch
    # late, where only the final line came before.
    elapsed = [60 * int(m) + int(s) for m, s in
               (re.search(r"elapsed (\d+)m(\d+)s", line).groups() for line in lines)]
    assert len(lines) >= 2 and "200/200 reviews (100.0%)" in lines[-1], lines
    assert 60 <= elapsed[0] <= 80 and "/200 reviews" in lines[0] and "200/200" not in lines[0]
    assert all(b - a <= 80 for a, b in zip(elapsed, elapsed[1:]))
