"""Hugging Face Hub access: a fast reachability check, so offline users get an answer in
seconds instead of after the libraries' ~25 s of retries, and the fix in the message."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


def hub_offline_requested() -> bool:
    """True when the user asked the HF libraries to use only their local cache."""
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"))


def hub_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    """(True, host) when the Hub endpoint (``HF_ENDPOINT``) accepts a TCP connection."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, host
    except OSError as exc:
        return False, f"{host}: {exc.strerror or exc}"
