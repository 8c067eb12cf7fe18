"""The online server against MLflow's own, side by side on the same registered version, driven by locust.

Run after `make run`:  .venv/bin/python benchmarks/online_serving.py [--dataset breast_cancer] [--seconds 20]
Starts `cleargate serve-model NAME@champion` (shadow off: MLflow's server has none to pay for) and
`mlflow models serve -m models:/NAME/<champion's version> --env-manager local` on free loopback ports, checks they
answer the same labels, then drives each in turn with locust (headless, `online_locustfile.py`): one-row requests
from 1 and from 8 concurrent clients (latency p50, p99), and 64-row requests from 8 clients (rows/s). Every figure
of a row is measured in the same run on the same machine; the load generator shares the machine with the servers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT

BIN = Path(sys.executable).parent
LOCUSTFILE = Path(__file__).resolve().parent / "online_locustfile.py"
SCENARIOS = (("1_client", 1, 1), ("8_clients", 8, 1), ("rows_64", 8, 64))   # name, clients, rows per request


def drive(url: str, body: bytes, users: int, seconds: int, folder: Path, token: str | None = None,
          background: bool = False) -> dict[str, Any] | Future:
    """`users` locust clients posting `body` to `url`/invocations for `seconds`; the figures of the run."""
    folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    (folder / f"body-{tag}.json").write_bytes(body)
    env = {**os.environ, "CLEARGATE_LOAD_BODY": str(folder / f"body-{tag}.json"),
           "CLEARGATE_LOAD_OUT": str(folder / f"load-{tag}.json"), "CLEARGATE_LOAD_TOKEN": token or ""}
    argv = [str(BIN / "locust"), "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(users), "-t",
            f"{seconds}s", "--host", url, "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]

    def run() -> dict[str, Any]:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 120)
        out = folder / f"load-{tag}.json"
        if not out.is_file():
            raise RuntimeError(f"locust wrote no results (exit {done.returncode}): {done.stderr[-2000:]}")
        result = json.loads(out.read_text())
        times = np.asarray(result.pop("times_ms"))
        p50, p99 = np.percentile(times, [50, 99]) if len(times) else (float("nan"), float("nan"))
        rps = result["requests"] / result["seconds"] if result["seconds"] > 0 else 0.0
        return {**result, "users": users, "p50_ms": float(p50), "p99_ms": float(p99), "requests_per_s": rps}

    if background:
        return ThreadPoolExecutor(max_workers=1).submit(run)
    return run()


def _env(tracking_uri: str) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT / "src"),
           "MLFLOW_TRACKING_URI": tracking_uri}
    for key in ("CLEARGATE_SERVING_TOKEN", "CLEARGATE_WEBHOOK_SECRET"):
        env.pop(key, None)
    return env


def _start(argv: list[str], env: dict[str, str], log: Path, url: str, cwd: Path) -> Any:
    from cleargate.processes import http_ok, spawn, wait_until

    running = spawn(argv, env, log, cwd)
    wait_until(lambda: http_ok(f"{url}/health", timeout=1), " ".join(argv[1:3]), running, 300)
    return running


def _labels(url: str, body: bytes) -> list[Any]:
    import requests

    answer = requests.post(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"},
                           timeout=60)
    answer.raise_for_status()
    return answer.json()["predictions"]


def measure(root: Path, dataset: str, seconds: int, folder: Path) -> dict[str, Any]:
    """Both servers on `dataset`'s champion in the project at `root` (whose params.yaml says `serving.shadow`)."""
    import pandas as pd
    import yaml
    from mlflow.tracking import MlflowClient

    from cleargate.params import load_project
    from cleargate.processes import free_ports, stop

    params = load_project(root / "params.yaml").scope(dataset)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    name = params.registry.model_name
    client = MlflowClient(uri, uri)
    champion = client.get_model_version_by_alias(name, "champion")
    version = champion.version
    model = client.get_run(champion.run_id).info.run_name
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["serving"]["shadow"] = None  # MLflow's server scores once per request: so does ours here
    unshadowed = root / f".bench-params-{uuid.uuid4().hex[:8]}.yaml"  # beside params.yaml: the same project
    unshadowed.write_text(yaml.safe_dump(raw, sort_keys=False))
    test = pd.read_parquet(params.layout.split("test"))[params.features]
    bodies = {rows: json.dumps({"dataframe_split": test.head(rows).to_dict(orient="split")}).encode()
              for rows in (1, 64)}
    ours, theirs = free_ports(2)
    urls = {"cleargate": f"http://127.0.0.1:{ours}", "mlflow": f"http://127.0.0.1:{theirs}"}
    commands = {"cleargate": [str(BIN / "cleargate"), "serve-model", f"{name}@champion", "--port", str(ours),
                              "--params", str(unshadowed)],
                "mlflow": [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{name}/{version}",
                           "--env-manager", "local", "--host", "127.0.0.1", "--port", str(theirs)]}
    servers: dict[str, Any] = {}
    result: dict[str, Any] = {"model": name, "version": str(version), "seconds": seconds,
                              "family": params.train[model].family if model in params.train else model}
    try:
        for server, argv in commands.items():
            started = time.monotonic()
            servers[server] = _start(argv, _env(uri), folder / f"{server}-{dataset}.log", urls[server], root)
            result[f"{server}_start_s"] = round(time.monotonic() - started, 1)
        answers = {server: _labels(url, bodies[64]) for server, url in urls.items()}
        result["same_labels"] = answers["cleargate"] == answers["mlflow"]
        for scenario, users, rows in SCENARIOS:
            for server, url in urls.items():
                run = drive(url, bodies[rows], users, seconds, folder / "load")
                run["rows_per_s"] = run["requests_per_s"] * rows
                result.setdefault(server, {})[scenario] = run
    finally:
        for running in servers.values():
            stop(running)
        unshadowed.unlink(missing_ok=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--dataset", default="breast_cancer")
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    import tempfile

    from cleargate.runtime import apply_offline_env

    apply_offline_env()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(args.params).resolve().parent, args.dataset, args.seconds, Path(tmp))
    for scenario, _, _ in SCENARIOS:
        ours, theirs = result["cleargate"][scenario], result["mlflow"][scenario]
        print(f"{scenario}: cleargate p50 {ours['p50_ms']:.2f} ms p99 {ours['p99_ms']:.2f} ms "
              f"{ours['rows_per_s']:,.0f} rows/s | mlflow p50 {theirs['p50_ms']:.2f} ms p99 {theirs['p99_ms']:.2f} "
              f"ms {theirs['rows_per_s']:,.0f} rows/s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
