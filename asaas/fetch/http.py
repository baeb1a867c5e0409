"""HTTP for fetches and webhooks: one client, a rate limit per host, retries with backoff.

- The client is httpx2 (pydantic's maintained continuation of httpx, already installed with
  huggingface_hub): explicit time-outs, no redirects followed (an API answering with a redirect
  is sending us to a login or error page), answers read up to ``max_bytes``.
- Every request, retries included, first takes a slot from its host's limiter (pyrate-limiter,
  a sliding window of one request per ``1 / rate_per_s`` seconds; its 50 ms safety margin is
  turned off, which ran a 20 requests/s limit at 10/s).
- Retries are tenacity's: exponential backoff from ``backoff_s`` with added jitter (so clients
  that failed together do not retry together), at least what a ``Retry-After`` asks, up to
  ``attempts`` tries. A ``Retry-After`` above ``max_wait_s`` is not slept through: the request
  fails at once with a message saying how long the server asked to wait.

What is worth retrying: time-outs, refused or dropped connections, 429, 5xx, and whatever the
caller's ``check`` says is a bad answer (``Retryable``: an HTML error page, ``success: 0``...).
Other 4xx and redirects fail at once. Failures are ``FetchError``: one line naming ``what`` was
fetched, the last problem and the tries made.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx2
import tenacity
from pyrate_limiter import InMemoryBucket, Limiter, Rate

from asaas import __version__
from asaas.errors import AsaasError

#: The largest answer read (Steam's pages of 100 reviews are well under 2 MB).
MAX_BYTES = 32 * 1024 * 1024

#: Waits between tries never exceed this (backoff; a Retry-After may ask for more, up to
#: ``max_wait_s``).
MAX_BACKOFF_S = 60.0

USER_AGENT = f"asaas/{__version__} (review monitor; +https://pypi.org/project/asaas/)"


class FetchError(AsaasError):
    """A request failed for good (after its retries): one line naming what and why;
    ``last``: the last try's problem (a ``Retryable`` or ``Fatal``)."""

    def __init__(self, message: str, last: BaseException | None = None, attempts: int = 1
                 ) -> None:
        super().__init__(message)
        self.last, self.attempts = last, attempts


class Retryable(Exception):
    """A failed try that another try may fix; ``retry_after``: what the server asked for."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class Fatal(Exception):
    """A failed try that no retry can fix (a 404, a redirect, a Retry-After of an hour)."""


@dataclass(frozen=True)
class HttpPolicy:
    rate_per_s: float = 1.0
    timeout_s: float = 30.0
    attempts: int = 5
    backoff_s: float = 2.0
    max_wait_s: float = 300.0
    max_bytes: int = MAX_BYTES

    @classmethod
    def from_settings(cls, settings: Any) -> HttpPolicy:
        return cls(rate_per_s=settings.rate_per_s, timeout_s=settings.timeout_s,
                   attempts=settings.attempts, backoff_s=settings.backoff_s,
                   max_wait_s=settings.max_wait_s)


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    #: Tries it took (1 when the first succeeded).
    attempts: int


def pause(seconds: float) -> None:
    """How retries wait (one place, so that tests can skip the waits)."""
    time.sleep(seconds)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for: a number, or an HTTP date; None when absent
    or unreadable (then the backoff decides)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def looks_like_html(body: bytes, content_type: str) -> bool:
    head = body[:512].lstrip().lower()
    return "html" in content_type.lower() or head.startswith((b"<!doctype", b"<html", b"<"))


class Http:
    """A client for one command run: ``with Http(policy) as http: http.get(...)``."""

    def __init__(self, policy: HttpPolicy, *, sleep: Callable[[float], None] | None = None,
                 on_retry: Callable[[str], None] | None = None) -> None:
        self.policy = policy
        self._sleep = sleep or (lambda seconds: pause(seconds))
        self._on_retry = on_retry
        self._client = httpx2.Client(
            timeout=httpx2.Timeout(policy.timeout_s), follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._limiters: dict[str, Limiter] = {}
        #: Requests sent (retries included) and retries, for reports.
        self.requests = 0
        self.retries = 0

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()
        for limiter in self._limiters.values():
            limiter.close()
        self._limiters.clear()

    # -- rate limit ----------------------------------------------------------------------------

    def _limiter(self, host: str) -> Limiter:
        limiter = self._limiters.get(host)
        if limiter is None:
            interval_ms = max(1, round(1000 / self.policy.rate_per_s))
            limiter = Limiter(InMemoryBucket([Rate(1, interval_ms)]), buffer_ms=0)
            self._limiters[host] = limiter
        return limiter

    # -- requests ------------------------------------------------------------------------------

    def get(self, url: str, params: dict[str, str] | None = None, *, what: str,
            check: Callable[[Response], None] | None = None) -> Response:
        """GET ``url``; ``check`` may raise ``Retryable`` for an answer that is bad although
        its status is 200. Raises FetchError naming ``what`` once the tries are spent."""
        return self._with_retries("GET", url, what, check, params=params)

    def post_json(self, url: str, payload: Any, *, what: str) -> Response:
        """POST a JSON body (webhooks); any 2xx is success."""
        return self._with_retries("POST", url, what, None, json=payload)

    def _with_retries(self, method: str, url: str, what: str,
                      check: Callable[[Response], None] | None, **kwargs: Any) -> Response:
        tries = 0

        def once() -> Response:
            nonlocal tries
            tries += 1
            response = self._send(method, url, **kwargs)
            response.attempts = tries
            if check is not None:
                check(response)
            return response

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(Retryable),
            sleep=self._sleep,
            before_sleep=lambda state: self._note_retry(what, state),
            reraise=True,
        )
        try:
            return retrying(once)
        except Retryable as exc:
            raise FetchError(f"{what}: {exc.reason} (tried {tries} "
                             f"{'time' if tries == 1 else 'times'})", exc, tries) from None
        except Fatal as exc:
            raise FetchError(f"{what}: {exc}", exc, tries) from None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        n = state.attempt_number  # tries made so far
        backoff = min(MAX_BACKOFF_S, self.policy.backoff_s * 2 ** (n - 1))
        backoff += random.uniform(0, self.policy.backoff_s)  # jitter
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.retry_after if isinstance(exc, Retryable) else None
        return max(backoff, asked or 0.0)

    def _note_retry(self, what: str, state: tenacity.RetryCallState) -> None:
        self.retries += 1
        if self._on_retry is not None and state.outcome is not None:
            exc = state.outcome.exception()
            wait = state.next_action.sleep if state.next_action else 0.0
            self._on_retry(f"{what}: {getattr(exc, 'reason', exc)}; try "
                           f"{state.attempt_number + 1} of {self.policy.attempts} in "
                           f"{wait:.1f} s")

    def _send(self, method: str, url: str, **kwargs: Any) -> Response:
        host = urlsplit(url).netloc
        self._limiter(host).try_acquire(host)
        self.requests += 1
        try:
            with self._client.stream(method, url, **kwargs) as r:
                body = bytearray()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > self.policy.max_bytes:
                        raise Retryable(f"answer larger than {self.policy.max_bytes:,} bytes")
                status, headers = r.status_code, {k.lower(): v for k, v in r.headers.items()}
        except httpx2.TimeoutException:
            raise Retryable(f"no answer within {self.policy.timeout_s:g} s (time-out)") from None
        except httpx2.TransportError as exc:
            raise Retryable(f"connection failed ({type(exc).__name__}: "
                            f"{str(exc) or 'no detail'})") from None
        response = Response(status, bytes(body), headers, 0)
        if status == 429 or status >= 500:
            asked = retry_after_seconds(headers.get("retry-after"))
            if asked is not None and asked > self.policy.max_wait_s:
                raise Fatal(f"HTTP {status}; the server asks to wait {asked:.0f} s "
                            f"(Retry-After), more than ASAAS_FETCH_MAX_WAIT="
                            f"{self.policy.max_wait_s:g} s; run again later")
            label = ("429 Too Many Requests" if status == 429 else
                     f"HTTP {status}{_detail(response.body)}")
            raise Retryable(label, asked)
        if 300 <= status < 400:
            raise Fatal(f"HTTP {status} redirect to {headers.get('location', '?')}; check the "
                        "URL setting")
        if status >= 400:
            raise Fatal(f"HTTP {status}{_detail(response.body)}")
        return response


def _detail(body: bytes) -> str:
    """The start of an error answer's text, when it is short plain text (not a page)."""
    text = " ".join(body[:200].decode("utf-8", "replace").split())
    return f" ({text[:120]})" if text and not text.startswith(("<", "{")) else ""
