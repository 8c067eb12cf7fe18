"""What the stack tests share: the Prefect API of a stack, batches for the inbox, a headless browser."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from tests.ops.conftest import DATASET, Stack


@contextmanager
def prefect_api(stack: Stack) -> Iterator[None]:
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    updates: dict[Any, Any] = {PREFECT_API_URL: stack.prefect_api}
    if "PREFECT_API_AUTH_STRING" in stack.client_env:
        updates[PREFECT_API_AUTH_STRING] = stack.client_env["PREFECT_API_AUTH_STRING"]
    with temporary_settings(updates=updates):
        yield


def run_deployment(stack: Stack, name: str, parameters: dict[str, Any], timeout: float = 900) -> Any:
    """Start a run of a deployment on the stack and wait until the worker has finished it (asking every second:
    Prefect's default of 5 s added 2.5 s on average to each of the stack's runs)."""
    from prefect.deployments import run_deployment as run

    with prefect_api(stack):
        return run(name, parameters=parameters, timeout=timeout, as_subflow=False, poll_interval=1)


def read_flow_run(stack: Stack, run_id: str) -> Any:
    from prefect.client.orchestration import get_client

    with prefect_api(stack), get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def split_of(stack: Stack, dataset: str) -> pd.DataFrame:
    return pd.read_parquet(stack.project / "data" / "processed" / dataset / "test.parquet")


def drifted(frame: pd.DataFrame) -> pd.DataFrame:
    """Valid values (every range declares only a floor), a very different population: each feature x3."""
    features = [c for c in frame.columns if c != "label"]
    out = frame.drop(columns="label").copy()
    out[features] = out[features] * 3
    return out


def inbox(stack: Stack, dataset: str, *parts: str) -> Path:
    return stack.project / "data" / "inbox" / dataset / Path(*parts)


def drop_batch(stack: Stack, dataset: str, name: str, frame: pd.DataFrame) -> Path:
    """As producers must: written under a dot-name, then renamed into the inbox."""
    folder = inbox(stack, dataset)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.partial"
    frame.to_parquet(tmp)
    return tmp.rename(folder / name)


EXPERIMENT = "cleargate-test-breast_cancer"


def mlflow_client(stack) -> MlflowClient:
    mlflow.set_tracking_uri(stack.mlflow_uri)
    mlflow.set_registry_uri(stack.mlflow_uri)
    return MlflowClient(stack.mlflow_uri, stack.mlflow_uri)


def wait_final(stack, run_id: str, timeout: float = 900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flow_run = read_flow_run(stack, run_id)
        if flow_run.state.is_final():
            return flow_run
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} still {flow_run.state.type} after {timeout:.0f}s")


def reports(stack, folder: str) -> dict[str, dict]:
    return {json.loads(p.read_text())["batch"]: json.loads(p.read_text())
            for p in inbox(stack, DATASET, folder).glob("*.report.json")}


def locations(stack, names: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {n: [] for n in names}
    for folder in ("", "processing", "done", "refused"):
        for path in inbox(stack, DATASET, folder).glob("*.parquet"):
            for name in names:
                if path.name == name or path.name.endswith(f"-{name}"):
                    found[name].append(folder or "inbox")
    return found


def refused(url: str) -> int:
    try:
        urllib.request.urlopen(url, timeout=10)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200
