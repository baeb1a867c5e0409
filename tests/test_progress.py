"""Progress lines for logs (cron): periodic, stamped, and the final state exactly once."""

from __future__ import annotations

import io

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
