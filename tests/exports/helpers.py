"""Shared by the export tests: profiles pointed at a temporary outbox or a real local HTTP server."""

from __future__ import annotations

import csv
import io
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KINDS = ["invoice", "credit_note", "void"]


def folder_profiles(tmp_path, *, fmt: str = "csv", kinds=KINDS, name: str = "agency") -> dict:
    return {name: {"kinds": list(kinds), "format": fmt, "deliver_to": str(tmp_path / "outbox")}}


def rows(payload: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(payload.decode())))


def entry_rows(payload: bytes) -> list[dict]:
    return [row for row in rows(payload) if row["record"] == "entry"]


def balance_rows(payload: bytes) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Account id (or "customer/currency" for the payment side) -> (opening, delta, closing)."""
    return {
        row["account"] or f"{row['customer']}/{row['currency']}": (
            Decimal(row["opening"]),
            Decimal(row["amount"]),
            Decimal(row["closing"]),
        )
        for row in rows(payload)
        if row["record"] == "balance"
    }


class Agency:
    """A real HTTP server on 127.0.0.1 standing in for the billing agency.

    `fail_first` requests are answered 503 (after reading the body); every request's
    headers and body are kept. Stopped by `stop()` (the fixture does it).
    """

    def __init__(self, fail_first: int = 0):
        self.requests: list[tuple[dict, bytes]] = []
        self.fail_first = fail_first
        agency = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                agency.requests.append((dict(self.headers.items()), body))
                failing = len(agency.requests) <= agency.fail_first
                self.send_response(503 if failing else 201)
                reply = b"agency busy, try later" if failing else b"taken"
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/batches?client=settle"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
