"""`cleargate ui --prefect`: Prefect's UI on this project's runs (the database under the project's Prefect home,
where every run's own API kept them), on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from cleargate.errors import CleargateError
from flows.prefect_server import local_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--port", type=int, default=4200)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with local_server(Path(os.environ["PREFECT_HOME"]), args.port, scheduler=False) as api:
            print(f"Prefect UI: {api.removesuffix('/api')}  -  Ctrl-C stops", flush=True)
            threading.Event().wait()
    except CleargateError as exc:
        print(f"cleargate ui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        pass
    return 0
