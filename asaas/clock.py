"""Time and process helpers shared by everything that records runs."""

from __future__ import annotations

import os
from datetime import datetime, timezone


def utcnow() -> datetime:
    """Now as naive UTC, the convention of every timestamp column (see store/schema.py)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


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
