"""Time and process helpers shared by everything that records runs."""

from __future__ import annotations

import os
import socket
from datetime import date, datetime, timezone


def utcnow() -> datetime:
    """Now as naive UTC, the convention of every timestamp column (see store/schema.py)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def naive_utc(moment: datetime) -> datetime:
    """A time as naive UTC: an aware one converted, a naive one taken as UTC already."""
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def parse_iso(text: str) -> datetime:
    """An ISO 8601 date or date-time (``2017-09-12``, ``2017-09-12 10:30``, ``...T10:30:00Z``,
    ``...+02:00``) as naive UTC; raises ValueError for anything else."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return naive_utc(datetime.fromisoformat(text))


def as_naive_utc(value: datetime | date | str) -> datetime:
    """A date-time (a pandas Timestamp too), a date (its midnight) or ISO 8601 text (see
    ``parse_iso``) as naive UTC; ValueError for text that is not ISO 8601."""
    if isinstance(value, datetime):
        if hasattr(value, "to_pydatetime"):  # pandas Timestamp
            value = value.to_pydatetime()
        return naive_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return parse_iso(str(value))


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (runs left 'running' by a dead
    process are marked interrupted)."""
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it just belongs to someone else


def this_process() -> dict[str, int | str]:
    """``pid`` and ``host`` of this process, recorded with a run so that a later one can tell
    whether it died."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def process_gone(host: str | None, pid: int | str | None) -> bool:
    """Whether the process recorded as ``host``/``pid`` ran on this host and no longer exists (a
    run it left 'running' was killed). Of another host's process nothing can be told: False."""
    return host == socket.gethostname() and bool(pid) and not pid_alive(int(pid))
