"""`python -m flows <command> [options]`: the one entry to the flows, what `cleargate run | serve | monitor |
tune | stability` start (the `cleargate` command hands these over to it; it is not meant to be typed).

Before anything heavy is imported it sets up the process as every entry point does (offline, quiet, the
project's `.prefect/` as Prefect's home) and, for a command that runs flows where no PREFECT_API_URL is set,
launches the run's own Prefect API server (`flows.prefect_server.TemporaryApi`), which then starts beside the
run's imports; the command waits for it only before its first flow (`prefect_server.run_api_ready`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from cleargate.runtime import settle_library_logs, start_process
from flows import prefect_server
from flows.console import quiet_prefect_console

COMMANDS = {                    # command -> the module whose `main(argv)` runs it
    "run": "flows.pipeline",
    "serve": "flows.serve",
    "monitor": "flows.monitor",
    "score": "flows.scoring",
    "stability": "flows.stability",
    "tune": "flows.tune",
    "ui": "flows.prefect_ui",
}
OWN_SERVER = {"serve", "ui"}    # start a server with a UI of their own (serve: or use PREFECT_API_URL)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m flows {{{','.join(COMMANDS)}}} [options]", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    known, _ = _common().parse_known_args(rest)
    start_process(Path(known.params).resolve().parent, known.verbose or None)
    quiet_prefect_console(known.verbose)
    if command not in OWN_SERVER:
        prefect_server.launch_run_api(Path(os.environ["PREFECT_HOME"]))
    module = importlib.import_module(COMMANDS[command])  # Prefect, the flow and the run's code
    settle_library_logs()  # libraries that set their loggers to INFO when imported (DVC, Lightning)
    return int(module.main(rest))  # the run's own API stops at exit, after Prefect's workers flushed


def _common() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
