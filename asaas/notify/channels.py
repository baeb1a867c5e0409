"""Where notifications go: a webhook (Slack-compatible or generic JSON) and email (SMTP).

Each channel sends one ``AlertMessage`` with retries (tenacity, as fetches do: backoff with
jitter, a webhook's Retry-After honoured) and raises ``DeliveryError`` once they are spent: one
line, with every secret masked. The secrets (the webhook URL, whose path is the credential of a
Slack hook, and the SMTP password) come from the environment only (asaas.settings
NotifySettings) and are masked out of every message by ``Masker`` before it can reach a log, an
error or the notifications table.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import tenacity

from asaas.errors import AsaasError, ConfigError
from asaas.fetch.http import pause
from asaas.notify.message import AlertMessage
from asaas.store.urls import mask_secrets

WEBHOOK_FORMATS = ("slack", "json")
SMTP_SECURITY = ("starttls", "ssl", "none")


class DeliveryError(AsaasError):
    """A notification could not be delivered (its tries are spent); ``attempts``: tries made."""

    def __init__(self, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class Masker:
    """Replaces known secret values (and any URL password) with ***."""

    def __init__(self, secrets: list[str | None]) -> None:
        found: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < 4:
                continue
            found.add(secret)
            parts = urlsplit(secret) if "://" in secret else None
            if parts is not None and parts.path not in ("", "/"):
                # A Slack hook's credential is its path: mask it wherever it shows alone.
                found.add(parts.path + (f"?{parts.query}" if parts.query else ""))
                found.update(p for p in parts.path.split("/") if len(p) >= 8)
        # Longest first, so a URL is masked whole before its path is.
        self._secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return mask_secrets(text)


class Webhook:
    name = "webhook"

    def __init__(self, url: str, fmt: str, http: Any) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("ASAAS_WEBHOOK_URL is not an http(s) URL; set it to the hook's "
                              "address, e.g. https://hooks.slack.com/services/...")
        if fmt not in WEBHOOK_FORMATS:
            raise ConfigError(f"ASAAS_WEBHOOK_FORMAT={fmt!r}: use slack or json")
        self.url, self.fmt, self.http = url, fmt, http
        #: Names the hook without its secret path.
        self.where = f"webhook {parts.scheme}://{parts.hostname}" + (
            f":{parts.port}" if parts.port else "")

    def send(self, message: AlertMessage) -> int:
        """POST the message; returns the tries it took."""
        from asaas.fetch.http import FetchError

        body = message.slack() if self.fmt == "slack" else message.payload()
        try:
            return self.http.post_json(self.url, body, what=self.where).attempts
        except FetchError as exc:
            raise DeliveryError(str(exc), exc.attempts) from None


class Email:
    name = "email"

    def __init__(self, settings: Any, *, sleep: Callable[[float], None] | None = None) -> None:
        if settings.smtp_security not in SMTP_SECURITY:
            raise ConfigError(f"ASAAS_SMTP_SECURITY={settings.smtp_security!r}: use starttls, "
                              "ssl or none")
        if not settings.mail_from or not settings.mail_to:
            raise ConfigError("email needs ASAAS_MAIL_FROM and ASAAS_MAIL_TO (comma-separated "
                              "addresses) besides ASAAS_SMTP_HOST")
        if settings.smtp_password and not settings.smtp_user:
            raise ConfigError("ASAAS_SMTP_PASSWORD is set without ASAAS_SMTP_USER")
        self.settings = settings
        self.host = settings.smtp_host
        self.port = settings.smtp_port or (465 if settings.smtp_security == "ssl" else 587)
        self.recipients = [a.strip() for a in settings.mail_to.split(",") if a.strip()]
        self.where = f"email via {self.host}:{self.port}"
        self._sleep = sleep or (lambda seconds: pause(seconds))

    def send(self, message: AlertMessage) -> int:
        tries = 0

        def once() -> None:
            nonlocal tries
            tries += 1
            self._send_once(message)

        s = self.settings
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(s.attempts),
            wait=tenacity.wait_exponential_jitter(initial=1, max=30, jitter=1),
            retry=tenacity.retry_if_exception_type(_Transient), sleep=self._sleep,
            reraise=True)
        try:
            retrying(once)
        except _Transient as exc:
            raise DeliveryError(f"{self.where}: {exc} (tried {tries} "
                                f"{'time' if tries == 1 else 'times'})", tries) from None
        except DeliveryError as exc:
            exc.attempts = tries
            raise
        return tries

    def _send_once(self, message: AlertMessage) -> None:
        s = self.settings
        context = ssl.create_default_context()  # verifies the server's certificate and name
        try:
            if s.smtp_security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port,
                                                        timeout=s.timeout_s, context=context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=s.timeout_s)
            with client:
                if s.smtp_security == "starttls":
                    client.starttls(context=context)
                if s.smtp_user:
                    self._login(client)
                client.send_message(message.email(s.mail_from, self.recipients))
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{self.where}: the server refused the login of "
                                f"{s.smtp_user!r} ({_smtp_reply(exc)}); check ASAAS_SMTP_USER "
                                "and ASAAS_SMTP_PASSWORD") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{self.where}: {exc} (set ASAAS_SMTP_SECURITY to what the "
                                "server offers: starttls, ssl)") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"{self.where}: recipients refused: "
                                f"{', '.join(exc.recipients)}; check ASAAS_MAIL_TO") from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:  # "try again later"
                raise _Transient(_smtp_reply(exc)) from None
            raise DeliveryError(f"{self.where}: {_smtp_reply(exc)}") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"{self.where}: TLS failed ({exc.reason or exc}); check "
                                "ASAAS_SMTP_SECURITY and the server's certificate") from None
        except (socket.timeout, TimeoutError):
            raise _Transient(f"no answer within {s.timeout_s:g} s (time-out)") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None


    def _login(self, client: smtplib.SMTP) -> None:
        """Log in with one mechanism, the first the server offers of PLAIN, LOGIN, CRAM-MD5.
        smtplib's login() tries each offered mechanism in turn after a refusal: a wrong
        password then counts two or three times against lockout policies (and some servers
        hang up mid-way)."""
        s = self.settings
        client.ehlo_or_helo_if_needed()
        offered = client.esmtp_features.get("auth", "").upper().split()
        client.user, client.password = s.smtp_user, s.smtp_password or ""
        for name, method in (("PLAIN", client.auth_plain), ("LOGIN", client.auth_login),
                             ("CRAM-MD5", client.auth_cram_md5)):
            if name in offered:
                client.auth(name, method)
                return
        raise DeliveryError(f"{self.where}: the server offers no login (AUTH) on this "
                            "connection; use ASAAS_SMTP_SECURITY=starttls or ssl, or leave "
                            "ASAAS_SMTP_USER unset for a relay that needs none")


class _Transient(Exception):
    """A failed try of a mail that a later try may deliver."""


def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) \
        else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}"
