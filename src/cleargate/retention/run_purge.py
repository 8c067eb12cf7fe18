"""Runs deleted, then purged for good with MLflow's own `mlflow gc` (its public command), so their artifacts go
too: MLflow's client only marks a run deleted, and its rows and files stay until `mlflow gc` removes them.

`mlflow gc` needs the store's database: for a store MLflow opens itself (SQLite, or a database URI) it runs
here, on that store (`mlflow gc --run-ids ...`, the store given as MLFLOW_TRACKING_URI rather than
`--backend-store-uri`); a tracking server's database is the server's, so the line returned says what its operator
runs there.
Given run ids, `mlflow gc` also removes whatever else the store already holds as deleted (experiments, such as
released promotion-lock generations, and logged models): it has no option to leave them, so `cleargate gc` says
how many experiments that is before it runs. The promotion lock stays safe: a holder checks that no later
generation exists before it moves an alias.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from cleargate.errors import ServiceError
from cleargate.retention.expired_runs import ExpiredRun
from cleargate.tracking.store import is_server, shown_uri

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

CHUNK = 2000   # run ids per `mlflow gc` (33 characters each: well under the kernel's limit for one argument)


def local_folder(uri: str) -> Path | None:
    """The folder an artifact URI names on this machine (file:// or a plain path); None for any other store."""
    if uri.startswith("file:"):
        return Path(unquote(urlparse(uri).path))
    if uri and "://" not in uri and ":" not in uri.split("/")[0]:
        return Path(uri)
    return None


def artifact_bytes(runs: list[ExpiredRun]) -> int | None:
    """Bytes of the runs' artifacts where they are files on this machine; None when any is elsewhere (a server's
    artifact store): the total would be a guess."""
    total = 0
    for run in runs:
        folder = local_folder(run.artifact_uri)
        if folder is None:
            return None
        if folder.is_dir():
            total += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return total


def deleted_experiments(client: MlflowClient) -> list[str]:
    """Names of the experiments the store holds as deleted (which `mlflow gc` removes as well)."""
    from mlflow.entities import ViewType

    names, token = [], None
    while True:
        page = client.search_experiments(view_type=ViewType.DELETED_ONLY, max_results=1000, page_token=token)
        names += [e.name for e in page]
        token = page.token
        if not token:
            return names


def delete(client: MlflowClient, runs: list[ExpiredRun]) -> None:
    for run in runs:
        if not run.deleted:
            client.delete_run(run.run_id)


def server_command(uri: str) -> str:
    """What a tracking server's operator runs on the server to purge every deleted run."""
    return (f"MLFLOW_TRACKING_URI={uri} mlflow gc --backend-store-uri <the server's --backend-store-uri "
            "(MLFLOW_BACKEND_STORE_URI)>")


def purge(uri: str, runs: list[ExpiredRun]) -> str:
    """Remove the (deleted) runs and their artifacts for good; returns one line saying what was done, or for a
    tracking server what its operator runs."""
    if not runs:
        return "nothing to purge"
    if is_server(uri):
        return (f"deleted on the tracking server {uri}; their rows and artifacts stay until its operator runs, "
                f"on the server: {server_command(uri)}")
    # the store through MLFLOW_TRACKING_URI, which `mlflow gc` opens when no --backend-store-uri is given: the same
    # store, without a database password on a command line that every user of the host sees in `ps`
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    env.pop("MLFLOW_REGISTRY_URI", None)
    ids = [run.run_id for run in runs]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        done = subprocess.run([sys.executable, "-m", "mlflow", "gc", "--run-ids", ",".join(chunk)], env=env,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            raise ServiceError(f"{shown_uri(uri)}: `mlflow gc` failed after {start} of {len(ids)} runs were purged "
                               f"({(lines or ['no output'])[-1][:300]}); the rest stay deleted, and the next "
                               "`cleargate gc` purges them")
    return f"purged with `mlflow gc` (rows and artifacts) from {shown_uri(uri)}"
