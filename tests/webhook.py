"""A webhook receiver on 127.0.0.1 for the tests that notify (delivery, the live job, the docs):
records each JSON POST; ``mode`` says how it answers: ``ok`` (200), ``fail`` (500 echoing the
request path, secret included, as hostile servers do) or ``hang`` (no answer within the
client's time-out). Started by the test and closed by it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, secret: str = "SECRETwebhook0123456789") -> None:
        self.secret = secret
        self.mode = "ok"
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests += 1
                if receiver.mode == "hang":
                    receiver._stop.wait(5)
                    return
                if receiver.mode == "fail":
                    reply = f"internal error at {self.path}".encode()
                    self.send_response(500)
                else:
                    receiver.received.append(json.loads(body))
                    reply = b"ok"
                    self.send_response(200)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The hook's URL, the secret in its path as Slack's have."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/{self.secret}"

    def ids(self) -> list[str]:
        """The alert ids received (``ASAAS_WEBHOOK_FORMAT=json`` bodies)."""
        return [m["alert_id"] for m in self.received]

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
