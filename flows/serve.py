"""`cleargate serve`: register both deployments with their schedules and execute their runs here, in the foreground.

Registers the notifications (params.yaml `notifications`) as Prefect automations on the same server. Against
PREFECT_API_URL when it is set (a team's server); otherwise a local `prefect server start` on
127.0.0.1 (port: Prefect's PREFECT_SERVER_API_PORT, 4200 by default) with its database under the project's
Prefect home (`.prefect/`): a run's own temporary API has no scheduler, so cron would never fire there. The local
server's vacuum deletes flow runs that ended over params.yaml `retention.flow_run_days` ago.
Ctrl-C stops serving (Prefect pauses the two schedules), then the local server; nothing is left running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from contextlib import nullcontext
from pathlib import Path

from cleargate.errors import CleargateError
from cleargate.params import load_project
from cleargate.serving.registry_webhook import SECRET_ENV
from flows.prefect_server import local_server

DEFAULT_PORT = 4200   # Prefect's own default (PREFECT_SERVER_API_PORT)


def serve_both(params_path: Path) -> None:
    """Prefect is imported here, after PREFECT_API_URL names the server: every thread and run uses it. The
    deployments are registered before the line that says they are served (what `prefect.serve` does, with the
    line after the registration instead of before it), so the UI it names already shows them."""
    from prefect.runner import Runner

    from flows import automations
    from flows.deployments import declared, serve_deployments

    project = load_project(params_path)
    ui = os.environ["PREFECT_API_URL"].removesuffix("/api")
    for d in declared(project):
        schedule = d.options["schedule"]
        print(f"serving {d.full_name}: cron '{schedule.cron}' ({schedule.timezone}), "
              f"parameters {d.options['parameters']}", flush=True)
    # the team stack's MLflow webhook tells champion moves there (its env file names the webhook's secret)
    names = automations.register(project, ui, registry_webhook=bool(os.environ.get(SECRET_ENV)))
    print(f"notifications: {automations.described(project, names)}", flush=True)
    runner = Runner(pause_on_shutdown=True)  # Ctrl-C pauses the two schedules
    for deployment in serve_deployments(project):
        runner.add_deployment(deployment)
    print(f"Prefect UI: {ui}  -  Ctrl-C stops", flush=True)
    asyncio.run(runner.start())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it even if started from a script
    try:
        project = load_project(args.params)  # a bad params.yaml: one line before any server starts
        configured = os.environ.get("PREFECT_API_URL")
        port = int(os.environ.get("PREFECT_SERVER_API_PORT") or DEFAULT_PORT)
        with nullcontext(configured) if configured else local_server(
                Path(os.environ["PREFECT_HOME"]), port, flow_run_days=project.retention.flow_run_days) as api:
            os.environ["PREFECT_API_URL"] = api
            serve_both(args.params)
    except CleargateError as exc:
        print(f"cleargate serve: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C: the runner has paused the schedules; the local server stops (`with`)
        pass
    return 0
