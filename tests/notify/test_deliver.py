"""`asaas notify` (asaas/notify/: deliver, channels, outbox, message): alerts to a local webhook
receiver and a local SMTP server (aiosmtpd), both on
127.0.0.1 and started by the tests: sent once, failures retried and kept owed, secrets masked."""

from __future__ import annotations

import json
import socket
import ssl
from datetime import datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from tests.events_alerts_data import Review, daily_series, write_reviews
from tests.helpers import err, ok, q
from tests.requires import require
from tests.webhook import Receiver

T0 = datetime(2020, 1, 1)
SECRET = "SECRETtoken0123456789"
PASSWORD = "hunter2-correct-horse"
SINCE = ("--since", "2020-01-01")


def bombed(db_path) -> None:
    """Two products, each with a planted negative burst: negative:100:2020-03-31 (Skyrim, with
    a hostile review text) and negative:200:2020-02-20 (Firewatch)."""
    rows = daily_series("100", T0, [20] * 120, [0.05] * 120, seed=1)
    for day in (90, 91):
        for j in range(40):
            rows.append(Review("100", T0 + timedelta(days=day, hours=3, minutes=j), 0,
                               text="paid mods are pure greed, refund <!channel> & <x|y>"))
    rows += daily_series("200", T0, [10] * 120, [0.05] * 120, seed=2)
    for j in range(30):
        rows.append(Review("200", T0 + timedelta(days=50, hours=3, minutes=j), 0,
                           text="dmca takedown of streamers, shameful"))
    write_reviews(db_path, rows, names={"100": "Skyrim", "200": "Firewatch"})


ALERTS = ["negative:100:2020-03-31", "negative:200:2020-02-20"]  # by product, then start


@pytest.fixture
def hook(monkeypatch):
    h = Receiver(SECRET)
    monkeypatch.setenv("ASAAS_WEBHOOK_URL", h.url)
    monkeypatch.setenv("ASAAS_NOTIFY_TIMEOUT", "10")
    monkeypatch.setenv("ASAAS_NOTIFY_ATTEMPTS", "3")
    yield h
    h.close()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    """No real waits between delivery tries."""
    monkeypatch.setattr("asaas.fetch.http.pause", lambda _seconds: None)


def leaked(db_path, output: str) -> bool:
    rows = q(db_path, "SELECT coalesce(last_error, '') FROM notifications")
    stored = " ".join(r[0] for r in rows)
    return any(s in output or s in stored for s in (SECRET, PASSWORD))


# -- webhooks ------------------------------------------------------------------------------------


def test_slack_webhook_gets_each_alert_once(invoke, db_path, hook, tmp_path):
    bombed(db_path)
    out = ok(invoke("notify", *SINCE))
    assert f"webhook http://127.0.0.1:{hook.server.server_address[1]}: 2 sent (2 alerts " \
           "since 2020-01-01)" in out
    assert len(hook.received) == 2
    skyrim = hook.received[0]
    text = skyrim["blocks"][0]["text"]["text"]
    assert skyrim["text"] == "negative alert: Skyrim (100), 2020-03-31 to 2020-04-01"
    assert "81 negative of 120 reviews" in text and "vs baseline" in text
    assert "`greed`" in text and "`paid`" in text
    # The review is a stranger's text: Slack's control characters are escaped.
    assert "&lt;!channel&gt; &amp; &lt;x|y&gt;" in text and "<!channel>" not in json.dumps(skyrim)
    footer = skyrim["blocks"][1]["elements"][0]["text"]
    page = tmp_path / "home" / "alerts" / "negative-100-2020-03-31.html"
    assert f"page `{page}`" in footer and page.exists()
    assert "Skyrim" in page.read_text()
    rows = q(db_path, "SELECT alert_id, channel, status, attempts, last_error, sent_at IS NOT NULL "
                      "FROM notifications ORDER BY alert_id")
    assert rows == [("negative:100:2020-03-31", "webhook", "sent", 1, None, True),
                    ("negative:200:2020-02-20", "webhook", "sent", 1, None, True)]
    again = ok(invoke("notify", *SINCE))
    assert "2 already sent" in again and len(hook.received) == 2  # nothing sent twice


def test_json_webhook_payload(invoke, db_path, hook, monkeypatch):
    bombed(db_path)
    monkeypatch.setenv("ASAAS_WEBHOOK_FORMAT", "json")
    ok(invoke("notify", *SINCE, "--kind", "negative", "--no-pages"))
    first = hook.received[1]
    assert first["alert_id"] == ALERTS[1] and first["kind"] == "negative"
    assert first["product"] == {"id": "200", "name": "Firewatch"}
    assert first["period"] == {"start": "2020-02-20", "end": "2020-02-20", "days": 1}
    assert first["negative"] > first["expected_negative"] and first["page"] is None
    assert {"dmca", "takedown"} <= set(first["words"])
    assert "dmca" in first["review"]["snippet"] and first["review"]["id"] > 0
    stored = q(db_path, f"SELECT payload_sha256 FROM notifications WHERE alert_id = "
                        f"'{ALERTS[1]}'")[0][0]
    assert len(stored) == 64


def test_webhook_answering_500_stays_owed_and_is_sent_next_run(invoke, db_path, hook):
    bombed(db_path)
    hook.mode = "fail"
    result = invoke("notify", *SINCE)
    line = err(result, after_log_lines=True)
    port = hook.server.server_address[1]
    # The server's answer echoed the hook's secret path: masked.
    assert line == (f"Error: webhook http://127.0.0.1:{port}: HTTP 500 (internal error at ***) "
                    "(tried 3 times); 2 alerts stay unsent and the next `asaas notify` tries "
                    "again")
    assert hook.requests == 3  # the second alert was not tried against a broken hook
    assert "1 failed, 1 not tried" in result.output
    assert q(db_path, "SELECT alert_id, status, attempts, sent_at FROM notifications") == [
        (ALERTS[0], "failed", 3, None)]
    assert not leaked(db_path, result.output)
    hook.mode = "ok"
    out = ok(invoke("notify", *SINCE))
    assert "2 sent" in out and [r["text"][:13] for r in hook.received] == ["negative aler"] * 2
    assert q(db_path, "SELECT alert_id, status, attempts, last_error FROM notifications "
                      "ORDER BY alert_id") == [(ALERTS[0], "sent", 4, None),
                                               (ALERTS[1], "sent", 1, None)]
    ok(invoke("notify", *SINCE))
    assert len(hook.received) == 2


def test_webhook_never_answering_is_one_line(invoke, db_path, hook, monkeypatch):
    bombed(db_path)
    monkeypatch.setenv("ASAAS_NOTIFY_TIMEOUT", "0.5")
    hook.mode = "hang"
    result = invoke("notify", *SINCE, "--no-pages")
    line = err(result, after_log_lines=True)
    assert "no answer within 0.5 s (time-out) (tried 3 times); 2 alerts stay unsent" in line
    assert q(db_path, "SELECT status, attempts FROM notifications") == [("failed", 3)]
    assert not leaked(db_path, result.output)


def test_dry_run_sends_and_records_nothing(invoke, db_path, hook):
    bombed(db_path)
    out = ok(invoke("notify", *SINCE, "--dry-run"))
    assert "would send negative:100:2020-03-31: 81 negative of 120 reviews" in out
    assert "2 would send" in out
    assert hook.requests == 0 and q(db_path, "SELECT count(*) FROM notifications") == [(0,)]


def test_default_since_leaves_old_alerts_alone(invoke, db_path, hook):
    bombed(db_path)
    out = ok(invoke("notify"))
    assert "nothing to send (0 alerts since" in out and hook.requests == 0


def test_no_channel_is_one_line(invoke, db_path, monkeypatch):
    monkeypatch.delenv("ASAAS_WEBHOOK_URL", raising=False)
    assert "no channel to notify: set ASAAS_WEBHOOK_URL" in err(invoke("notify"))
    assert not db_path.exists()


def test_bad_webhook_settings_are_one_line(invoke, monkeypatch):
    monkeypatch.setenv("ASAAS_WEBHOOK_URL", "ftp://example.invalid/x")
    assert "ASAAS_WEBHOOK_URL is not an http(s) URL" in err(invoke("notify"))
    monkeypatch.setenv("ASAAS_WEBHOOK_URL", "http://127.0.0.1:9/x")
    monkeypatch.setenv("ASAAS_WEBHOOK_FORMAT", "teams")
    assert "ASAAS_WEBHOOK_FORMAT='teams': use slack or json" in err(invoke("notify"))


def test_masker():
    from asaas.notify import Masker

    mask = Masker([f"https://hooks.example/services/T0/B0/{SECRET}", PASSWORD, None, ""])
    text = (f"POST https://hooks.example/services/T0/B0/{SECRET} failed; path "
            f"/services/T0/B0/{SECRET}; token {SECRET}; login {PASSWORD}; "
            "postgresql://bob:dbpass@db/x password=abc")
    masked = mask(text)
    assert SECRET not in masked and PASSWORD not in masked and "dbpass" not in masked
    assert "password=***" in masked and "postgresql://bob:***@db/x" in masked


# -- email ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


@pytest.fixture
def ca(tmp_path, monkeypatch):
    """A throwaway certificate authority the client trusts (SSL_CERT_FILE)."""
    trustme = require("trustme")
    authority = trustme.CA()
    pem = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    return authority


@pytest.fixture
def smtp(ca, monkeypatch):
    """An SMTP server on 127.0.0.1: ``smtp(security)`` starts one (starttls or ssl) that
    accepts the login bot / PASSWORD."""
    require("aiosmtpd")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    started = []

    def auth(server, session, envelope, mechanism, data):
        good = isinstance(data, LoginPassword) and data.login == b"bot" \
            and data.password == PASSWORD.encode()
        # handled=False: aiosmtpd answers a refusal with 535 itself.
        return AuthResult(success=good, handled=False)

    def start(security: str = "starttls") -> Mailbox:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        box = Mailbox()
        port = _free_port()
        kwargs: dict[str, Any] = {"authenticator": auth, "auth_require_tls": True}
        if security == "ssl":
            # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; the connection is TLS
            # from its first byte here.
            kwargs.update(ssl_context=context, auth_require_tls=False)
        else:
            kwargs.update(tls_context=context, require_starttls=True)
        controller = Controller(box, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        monkeypatch.setenv("ASAAS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ASAAS_SMTP_PORT", str(port))
        monkeypatch.setenv("ASAAS_SMTP_SECURITY", security)
        monkeypatch.setenv("ASAAS_SMTP_USER", "bot")
        monkeypatch.setenv("ASAAS_SMTP_PASSWORD", PASSWORD)
        monkeypatch.setenv("ASAAS_MAIL_FROM", "asaas@example.test")
        monkeypatch.setenv("ASAAS_MAIL_TO", "team@example.test, lead@example.test")
        monkeypatch.setenv("ASAAS_NOTIFY_TIMEOUT", "10")
        return box

    yield start
    for controller in started:
        controller.stop()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_with_login(invoke, db_path, smtp, monkeypatch, security):
    monkeypatch.delenv("ASAAS_WEBHOOK_URL", raising=False)
    bombed(db_path)
    box = smtp(security)
    out = ok(invoke("notify", *SINCE, "--kind", "negative"))
    assert "2 sent" in out and len(box.messages) == 2
    mail = box.messages[0]
    assert mail["Subject"] == "[asaas] negative alert: Skyrim (100), 2020-03-31 to 2020-04-01"
    assert mail["To"] == "team@example.test, lead@example.test"
    body = mail.get_payload(decode=True).decode()
    assert "81 negative of 120 reviews" in body and "Distinctive words:" in body
    assert "paid mods are pure greed" in body and "Page: " in body
    first_id = mail["Message-ID"]
    ok(invoke("notify", *SINCE))
    assert len(box.messages) == 2  # not sent twice
    # The Message-ID is the alert's own: a copy sent again would be recognised as the same.
    import hashlib

    digest = hashlib.sha256(ALERTS[0].encode()).hexdigest()[:32]
    assert first_id == f"<{digest}@asaas.alerts>"


def test_smtp_refusing_the_login_is_one_line_and_stays_owed(invoke, db_path, smtp, monkeypatch):
    monkeypatch.delenv("ASAAS_WEBHOOK_URL", raising=False)
    bombed(db_path)
    box = smtp("starttls")
    monkeypatch.setenv("ASAAS_SMTP_PASSWORD", "wrong-password-" + PASSWORD)
    result = invoke("notify", *SINCE, "--no-pages")
    line = err(result, after_log_lines=True)
    assert line.startswith("Error: email via 127.0.0.1:")
    assert "the server refused the login of 'bot' (535 5.7.8 Authentication credentials " \
           "invalid); check ASAAS_SMTP_USER and ASAAS_SMTP_PASSWORD; 2 alerts stay unsent" in line
    assert q(db_path, "SELECT status, attempts FROM notifications") == [("failed", 1)]
    assert not box.messages and not leaked(db_path, result.output)
    monkeypatch.setenv("ASAAS_SMTP_PASSWORD", PASSWORD)
    ok(invoke("notify", *SINCE, "--no-pages"))
    assert len(box.messages) == 2


def test_plain_smtp_against_a_starttls_server_is_told_what_to_set(invoke, db_path, smtp,
                                                                 monkeypatch):
    monkeypatch.delenv("ASAAS_WEBHOOK_URL", raising=False)
    bombed(db_path)
    smtp("starttls")
    monkeypatch.setenv("ASAAS_SMTP_SECURITY", "none")
    line = err(invoke("notify", *SINCE, "--no-pages"), after_log_lines=True)
    assert "email via 127.0.0.1:" in line and "stay unsent" in line


def test_webhook_down_does_not_hold_back_email(invoke, db_path, hook, smtp):
    bombed(db_path)
    box = smtp("starttls")
    hook.mode = "fail"
    result = invoke("notify", *SINCE, "--no-pages")
    err(result, after_log_lines=True)
    assert len(box.messages) == 2
    hook.mode = "ok"
    out = ok(invoke("notify", *SINCE, "--no-pages"))
    assert len(hook.received) == 2 and len(box.messages) == 2  # email not sent twice
    assert "email via 127.0.0.1" in out and "2 already sent" in out
    rows = q(db_path, "SELECT channel, count(*), min(status) FROM notifications GROUP BY "
                      "channel ORDER BY channel")
    assert rows == [("email", 2, "sent"), ("webhook", 2, "sent")]


def test_email_settings_are_checked(invoke, monkeypatch):
    monkeypatch.delenv("ASAAS_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("ASAAS_SMTP_HOST", "127.0.0.1")
    assert "email needs ASAAS_MAIL_FROM and ASAAS_MAIL_TO" in err(invoke("notify"))
    monkeypatch.setenv("ASAAS_MAIL_FROM", "a@b.test")
    monkeypatch.setenv("ASAAS_MAIL_TO", "c@d.test")
    monkeypatch.setenv("ASAAS_SMTP_SECURITY", "tls1.0")
    assert "ASAAS_SMTP_SECURITY='tls1.0': use starttls, ssl or none" in err(invoke("notify"))


def test_pages_dir_names_are_safe():
    from asaas.notify.deliver import page_path

    assert page_path(Path("/h"), "shift:a/b c:2020-01-01") == Path(
        "/h/alerts/shift-a_b_c-2020-01-01.html")
