"""The stack's relay from MLflow's registry webhook to Prefect: `python -m infra.stack.relay`, on loopback.

MLflow calls a webhook on every alias it sets (`champion` and `challenger` alike) with a signed JSON body. The
relay takes only calls whose signature matches the stack's secret (`.stack/secrets.json`, exported as
CLEARGATE_WEBHOOK_SECRET in `.stack/env`; anything else gets 401), keeps the moves of `champion`, and
emits each as the Prefect event `cleargate.champion_moved` (`cleargate.notifications.notify`), which the
automations turn into notifications. Written here because neither server offers it: MLflow's webhooks cannot
be filtered by alias, and Prefect's open-source server has no incoming webhooks. The call is answered at once;
the notice is made on a thread (it waits a moment for cleargate's history entry, which says who moved it).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from cleargate.notifications import notify
from cleargate.notifications.alias_moves import AliasSet, alias_set
from cleargate.serving.registry_webhook import SECRET_ENV, refusal
from cleargate.tracking.registry import CHAMPION

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

PORT_ENV, ROOT_ENV, UI_ENV = "CLEARGATE_RELAY_PORT", "CLEARGATE_PROJECT", "CLEARGATE_PREFECT_UI"
MAX_BODY = 1 << 20
TELLERS = 8   # moves told at once
log = logging.getLogger("cleargate.relay")


class Relay:
    def __init__(self, secret: str, root: Path, prefect_ui: str) -> None:
        self.secret, self.root, self.prefect_ui = secret, root, prefect_ui
        self.moves: queue.Queue[AliasSet] = queue.Queue()

    def take(self, headers: dict[str, str], body: bytes) -> int:
        """The HTTP status for one call: 401 unsigned or badly signed, 200 otherwise (a champion move queued)."""
        reason = refusal(self.secret, headers, body)
        if reason is not None:
            log.warning("refused a call: %s", reason)
            return 401
        alias = alias_set(body)
        if alias is not None and alias.alias == CHAMPION:
            self.moves.put(alias)
        return 200

    def _dataset(self, name: str) -> str:
        from cleargate.errors import CleargateError
        from cleargate.params import load_project

        try:
            return load_project(self.root / "params.yaml").scope_registered(name).dataset.name
        except CleargateError:
            return ""   # a model of another project on the same server

    def work(self) -> None:
        """Tell each move on one of `TELLERS` threads: a move made outside cleargate waits a few seconds for a
        history entry that never comes, and a burst of moves must not queue behind it."""
        from concurrent.futures import ThreadPoolExecutor

        from mlflow.tracking import MlflowClient

        uri = os.environ["MLFLOW_TRACKING_URI"]
        client = MlflowClient(uri, uri)
        with ThreadPoolExecutor(TELLERS, thread_name_prefix="relay-tell") as tellers:
            while True:
                tellers.submit(self._tell, client, uri, self.moves.get())

    def _tell(self, client: MlflowClient, uri: str, alias: AliasSet) -> None:
        from cleargate.release.registry_moves import move_notice

        try:
            notice = move_notice(client, alias.name, alias.version, self._dataset(alias.name), uri, self.prefect_ui,
                                 moved_at=alias.at)
            sent = notify(notice)
            log.info("%s v%s: %s (%s)", alias.name, alias.version, notice.message, "sent" if sent else "NOT sent")
        except Exception:
            log.exception("champion move of %s v%s not told", alias.name, alias.version)


def handler(relay: Relay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(200 if self.path == "/health" else 404, "ok\n" if self.path == "/health" else "")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._answer(413, "too large\n")
                return
            status = relay.take(dict(self.headers.items()), self.rfile.read(length))
            self._answer(status, "ok\n" if status == 200 else "invalid signature\n")

        def log_message(self, format: str, *args: object) -> None:
            log.info("%s %s", self.address_string(), format % args)

    return Handler


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    relay = Relay(os.environ[SECRET_ENV], Path(os.environ[ROOT_ENV]), os.environ.get(UI_ENV, ""))
    threading.Thread(target=relay.work, name="relay-moves", daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ[PORT_ENV])), handler(relay))
    log.info("relay on http://127.0.0.1:%s: MLflow registry webhook -> Prefect events", os.environ[PORT_ENV])
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
