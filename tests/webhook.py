"""A webhook receiver on 127.0.0.1 for the tests that notify (the live job, the docs): records
each JSON POST and answers ``status``; started by the test and closed by it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, secret: str = "SECRETwebhook0123456789") -> None:
        self.secret = secret
        self.status = 200
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.status == 200:
                    receiver.received.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The hook's URL, a secret in its path as Slack's have."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{self.secret}"

    def ids(self) -> list[str]:
        """The alert ids received (``ASAAS_WEBHOOK_FORMAT=json`` bodies)."""
        return [m["alert_id"] for m in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
