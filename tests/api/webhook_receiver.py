"""A real HTTP server on 127.0.0.1 that records the webhook POSTs it gets (started and stopped by the test)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, fail_first: int = 0, redirect_to: str = ""):
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self.redirect_to = redirect_to
        self.calls = 0
        self.url = ""


@contextmanager
def receiver(fail_first: int = 0, redirect_to: str = "") -> Iterator[Receiver]:
    """`fail_first` POSTs answered 503; with `redirect_to`, every POST answered 307 to there."""
    state = Receiver(fail_first, redirect_to)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.calls += 1
            if state.calls <= state.fail_first:
                self.send_response(503)
                self.end_headers()
                return
            if state.redirect_to:
                self.send_response(307)
                self.send_header("Location", state.redirect_to)
                self.end_headers()
                return
            state.received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/events"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
