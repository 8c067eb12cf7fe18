"""A real HTTP receiver for notification tests: `python -m tests.receiver PORT FILE` answers every POST with 200
and appends it to FILE as one JSON line (path, headers, body, time; `cut` says so where the sender closed the
connection before its whole body came), and GET /health with 200. Never a mock: the
servers under test (Prefect's automations, MLflow's webhooks, the stack's relay) call it over loopback."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> int:
    port, record = int(sys.argv[1]), Path(sys.argv[2])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def do_POST(self) -> None:
            expected = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(expected)
            post = {"path": self.path, "headers": dict(self.headers.items()),
                    "body": body.decode("utf-8", errors="replace"), "at": time.time()}
            if len(body) < expected:  # the sender closed the connection (its timeout, say) before its body came
                post["cut"] = f"connection closed after {len(body)} of {expected} body bytes"
            line = json.dumps(post)
            with lock, record.open("a") as out:
                out.write(line + "\n")
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
