"""Progress for long work: a live bar on a terminal, plain periodic log lines otherwise (cron)."""

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
        self.start = time.perf_counter()
        self._last_log = self.start
        self._logged_done = -1  # items done at the last log line, so close() never repeats it

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return (f"{self.label}: {self.done:,}/{self.total:,} {self.unit} ({pct:.1f}%), "
                f"{rate:,.1f} {self.unit}/s, elapsed {_duration(elapsed)}, ETA {_duration(eta)}")

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.live:
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()
        elif now - self._last_log >= self.log_every_s:
            self._last_log = now
            self._logged_done = self.done
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
