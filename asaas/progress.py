"""Progress for long work: a live bar on a terminal, plain periodic log lines otherwise (cron).

A log line is due every ``log_every_s`` seconds, and it is written when the work next reports,
so the work reports often: a scoring chunk of 512 reviews takes about two minutes with a CPU
fine-tune, and lines checked only between chunks came every ~140 s instead of 60. Work inside
a chunk reports with ``working`` (the transformer scorer after each batch, a few seconds each),
finished chunks with ``update``."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from asaas.settings import DEFAULT_PROGRESS_EVERY_S


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    """Counts items done; shows rate and ETA.

    On a terminal it redraws one line; elsewhere it writes a log line every ``log_every_s``
    seconds and at the end, so cron logs stay readable.
    """

    def __init__(self, total: int, label: str, *, unit: str = "reviews",
                 stream: TextIO | None = None, live: bool | None = None,
                 log_every_s: float = DEFAULT_PROGRESS_EVERY_S, enabled: bool = True) -> None:
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.log_every_s = log_every_s
        self.enabled = enabled
        self.done = 0
        #: Items of the chunk in hand done so far (``working``); ``update`` takes them over.
        self.in_flight = 0
        self.start = time.perf_counter()
        self._last_log = self.start
        self._logged_done = -1  # items done at the last log line, so close() never repeats it

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        done = min(self.done + self.in_flight, self.total) if self.total else self.done
        rate = done / elapsed if elapsed > 0 else 0.0
        pct = 100.0 * done / self.total if self.total else 100.0
        eta = _duration((self.total - done) / rate) if rate > 0 else "unknown"
        return (f"{self.label}: {done:,}/{self.total:,} {self.unit} ({pct:.1f}%), "
                f"{rate:,.1f} {self.unit}/s, elapsed {_duration(elapsed)}, ETA {eta}")

    def working(self, n: int) -> None:
        """``n`` more items of the chunk in hand are done (not yet counted by ``update``): the
        line moves, and is written when due, while a long chunk runs."""
        self.in_flight += n
        if self.enabled and (self.live or self.log_every_s > 0):  # 0: a line per chunk only
            self._show()

    def update(self, n: int) -> None:
        """A chunk of ``n`` items is done (it replaces what ``working`` counted of it)."""
        self.done += n
        self.in_flight = 0
        if self.enabled:
            self._show()

    def _show(self) -> None:
        now = time.perf_counter()
        if self.live:
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()
        elif now - self._last_log >= self.log_every_s:
            self._last_log = now
            self._logged_done = self.done + self.in_flight
            self.stream.write(self._stamped())
            self.stream.flush()

    def _stamped(self) -> str:
        """A log line with a UTC timestamp, like the job runner's own lines."""
        from asaas.clock import utcnow

        return f"{utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')} {self.line()}\n"

    def close(self) -> None:
        if not self.enabled:
            return
        if self.live:
            self.stream.write("\r" + self.line() + "\x1b[K\n")
        elif self.done and self.done != self._logged_done:
            self.stream.write(self._stamped())
        self.stream.flush()
