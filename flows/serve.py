"""`make serve`: register both deployments with their schedules and execute their runs here, in the foreground.

Against PREFECT_API_URL when it is set (a team's server); otherwise a local `prefect server start` on
127.0.0.1 (port: Prefect's PREFECT_SERVER_API_PORT, 4200 by default) with its SQLite database under the
project (`.prefect/server.db`): Prefect's ephemeral API has no scheduler, so cron would never fire.
Ctrl-C stops serving (Prefect pauses the two schedules), then the local server; nothing is left running.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.stack.config import StackError  # noqa: E402
from infra.stack.processes import http_ok, spawn, stop, wait_until  # noqa: E402
from infra.stack.services import LEASES  # noqa: E402

from cleargate.errors import CleargateError  # noqa: E402
from cleargate.params import load_project  # noqa: E402
from cleargate.runtime import apply_offline_env  # noqa: E402


@contextmanager
def local_server(root: Path) -> Iterator[str]:
    """A Prefect server for this project only, stopped (by its pid) when the block ends."""
    import socket

    from prefect.settings import get_current_settings

    port = get_current_settings().server.api.port
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise StackError(f"prefect server: port {port} is in use; stop what holds it, set "
                             f"PREFECT_SERVER_API_PORT, or point PREFECT_API_URL at that server")
    api = f"http://127.0.0.1:{port}/api"
    state = root / ".prefect"
    env = {**os.environ, "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{state / 'server.db'}",
           "PREFECT_UI_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **LEASES}
    env.pop("PREFECT_API_URL", None)
    server = spawn([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                   env, state / "server.log", root)
    try:
        seconds = wait_until(lambda: http_ok(f"{api}/health"), "prefect server", server, 300)
        print(f"prefect server: started on http://127.0.0.1:{port} in {seconds:.1f} s (SQLite: {state / 'server.db'}, "
              f"log: {state / 'server.log'})", flush=True)
        yield api
    finally:
        stop(server)
        print("prefect server: stopped", flush=True)


def serve_both(params_path: Path, api: str) -> None:
    from prefect import serve

    from flows.deployments import declared, serve_deployments
    from flows.ephemeral_api import api_everywhere

    project = load_project(params_path)
    with api_everywhere(api):  # here, in Prefect's threads, and in the flow runs serve starts
        for d in declared(project):
            schedule = d.options["schedule"]
            print(f"serving {d.full_name}: cron '{schedule.cron}' ({schedule.timezone}), "
                  f"parameters {d.options['parameters']}", flush=True)
        print(f"Prefect UI: {api.removesuffix('/api')}  -  Ctrl-C stops", flush=True)
        serve(*serve_deployments(project), print_starting_message=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    apply_offline_env()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it even if started from a script
    try:
        root = load_project(args.params).root
        configured = os.environ.get("PREFECT_API_URL")
        with nullcontext(configured) if configured else local_server(root) as api:
            serve_both(args.params, api)
    except (CleargateError, StackError) as exc:
        print(f"cleargate serve: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown: the local server still stops (finally above)
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
