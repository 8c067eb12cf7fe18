"""The MLflow tracking store: which one, a quick check that it answers, and its failures as one line.

`MLFLOW_TRACKING_URI` wins over params.yaml (a team server). A run checks the store before its first
stage (`check_store`, a few seconds by default: `tracking.connect_budget_s`) instead of letting MLflow
retry for minutes, and any store failure later is one `TrackingStoreError` naming the store and the fix.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cleargate.errors import ServiceError

HINT = "start it (`make stack-up`, or `mlflow server`) or point MLFLOW_TRACKING_URI at a running one"


# MLflow's UI opens an experiment in its model-training view (runs, charts, logged models), not its GenAI one
# (traces, prompts, judges), when the experiment says what it holds.
KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"


class TrackingStoreError(ServiceError):
    """The tracking store cannot be reached or written."""


def tracking_uri(params: Any) -> str:
    """MLFLOW_TRACKING_URI wins (a team server); else the embedded SQLite store from params.yaml."""
    return os.environ.get("MLFLOW_TRACKING_URI") or params.tracking.uri


def is_server(uri: str) -> bool:
    """A tracking server (MLflow's REST API), as opposed to a database MLflow opens itself."""
    return uri.startswith(("http://", "https://"))


def shown_uri(uri: str) -> str:
    """The URI without a password (user:pass@host -> user:***@host)."""
    scheme, sep, rest = uri.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return uri
    return f"{scheme}{sep}{credentials.split(':')[0]}:***@{host}"


def configure_requests(params: Any) -> None:
    """MLflow's HTTP retries and timeout from params.yaml (its defaults retry for minutes)."""
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(params.tracking.request_retries)
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(params.tracking.request_timeout_s))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def _check_http(uri: str, budget: float) -> None:
    import requests

    deadline, last = time.monotonic() + budget, "no answer"
    while True:
        try:
            answer = requests.get(f"{uri.rstrip('/')}/health", timeout=max(0.5, min(3.0, budget)))
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code} from /health"
            if answer.status_code in (401, 403):
                raise TrackingStoreError(f"{shown_uri(uri)}: MLflow tracking server refused the request ({last}); "
                                         "set MLFLOW_TRACKING_USERNAME/PASSWORD (see .stack/env)")
        except requests.RequestException as exc:
            last = type(exc).__name__
        if time.monotonic() > deadline:
            raise TrackingStoreError(f"{shown_uri(uri)}: MLflow tracking server not reachable after {budget:g} s "
                                     f"({last}); {HINT}")
        time.sleep(0.5)


def _check_writable(folder: Path, what: str) -> None:
    probe = folder / f".cleargate-probe-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise TrackingStoreError(f"{folder}: {what} is not writable ({type(exc).__name__}: {exc.strerror}); "
                                 "fix its permissions or change tracking in params.yaml") from None


def _create_tables(uri: str) -> None:
    """A new SQLite store gets its tables here, before any stage runs: fits started side by side (a process pool,
    Dask workers) would otherwise each create them, and all but the first fail (`table ... already exists`). One
    process at a time, under a file lock beside the database: two flows started at once (`make serve`'s
    schedules) would otherwise both migrate the new file (`duplicate column name`)."""
    from filelock import FileLock

    database = Path(uri.removeprefix("sqlite:///"))
    if database.is_file():
        return
    with FileLock(f"{database}.lock"):
        if database.is_file():  # created while this process waited
            return
        from mlflow.tracking import MlflowClient

        # built under another name and renamed into place: a process that finds the file finds every table
        scratch = database.with_name(f".{database.name}.{os.getpid()}.new")
        try:
            MlflowClient(f"sqlite:///{scratch}").search_experiments(max_results=1)
            os.replace(scratch, database)
        finally:
            scratch.unlink(missing_ok=True)


def ensure_tables(params: Any) -> None:
    """A new SQLite store's tables (MLflow's migrations: ~3 s, plus importing MLflow's SQL store); nothing for an
    existing database file or any other store."""
    uri = tracking_uri(params)
    if uri.startswith("sqlite:///"):
        _create_tables(uri)


def _check_database(uri: str, budget: float) -> None:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(uri, connect_args={"connect_timeout": max(1, int(budget))}
                                          if not uri.startswith("sqlite") else {})
        with engine.connect():
            pass
    except Exception as exc:
        raise TrackingStoreError(f"{shown_uri(uri)}: tracking database not reachable ({type(exc).__name__}); "
                                 f"{HINT}") from None


def check_store(params: Any, *, tables: bool = True) -> str:
    """Fail fast, in one line, when the store cannot be used; returns the URI checked. A new SQLite store also
    gets its tables, unless `tables=False`: then the first process to open it makes them (`ensure_tables`)."""
    uri, budget = tracking_uri(params), params.tracking.connect_budget_s
    if is_server(uri):
        _check_http(uri, budget)
    elif uri.startswith("sqlite:///"):
        _check_writable(Path(uri.removeprefix("sqlite:///")).parent, "the tracking database's folder")
        _check_writable(params.tracking.artifact_root, "the MLflow artifact folder")
        if tables:
            _create_tables(uri)
    elif "://" in uri:
        _check_database(uri, budget)
    return uri


@contextmanager
def store_errors(params: Any) -> Iterator[None]:
    """Connection failures and server errors while talking to the store become one TrackingStoreError."""
    import requests
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (requests.RequestException, ConnectionError) as exc:
        raise TrackingStoreError(f"{shown_uri(tracking_uri(params))}: lost the MLflow tracking server "
                                 f"({type(exc).__name__}); {HINT}, then run again") from None
    except MlflowException as exc:
        text = str(exc).splitlines()[0]
        if any(s in text for s in ("Max retries", "Connection", "API request", "timed out", "503", "502")):
            raise TrackingStoreError(f"{shown_uri(tracking_uri(params))}: MLflow tracking server failed "
                                     f"({_reason(text)}); {HINT}, then run again") from None
        raise


def _reason(text: str) -> str:
    """A few words of why a request failed, not the URL-laden text MLflow wraps it in."""
    for needle, reason in (("refused", "connection refused"), ("timed out", "timed out"), ("503", "HTTP 503"),
                           ("502", "HTTP 502"), ("Max retries", "no answer after retries")):
        if needle in text:
            return reason
    return text[:120]


def connect(params: Any) -> Any:
    """Point MLflow at the store and make sure the dataset's experiment exists; returns a client."""
    import mlflow
    from mlflow.tracking import MlflowClient

    configure_requests(params)
    uri = tracking_uri(params)
    ensure_tables(params)  # a flow that did not run the preflight (monitoring, the pipeline), several at once
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in saved.items():  # MLflow exports the URI; keep the user's variable the only override
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    client = MlflowClient(uri, uri)
    with store_errors(params):
        ensure_experiment(params, client, params.experiment)
        mlflow.set_experiment(params.experiment)
    return client


def ensure_experiment(params: Any, client: Any, name: str) -> str:
    """The experiment's id, created if missing (artifacts under `tracking.artifact_root` for a local store; a
    tracking server puts them where it serves them). Another process creating it first is not an error."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.tags.get(KIND_TAG) != MODEL_TRAINING:
            client.set_experiment_tag(found.experiment_id, KIND_TAG, MODEL_TRAINING)
        return found.experiment_id
    uri = tracking_uri(params)
    location = params.tracking.artifact_root.resolve().as_uri() if uri.startswith("sqlite") else None
    try:
        return client.create_experiment(name, artifact_location=location, tags={KIND_TAG: MODEL_TRAINING})
    except MlflowException:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


@contextmanager
def server_errors(params: Any, doing: str) -> Iterator[None]:
    """`store_errors`, and a tracking server that stopped answering midway (whatever the client raised) named
    with what was being done; any other failure, or a store that still answers, is raised as it is."""
    try:
        with store_errors(params):
            yield
    except Exception as exc:
        uri = tracking_uri(params)
        if is_server(uri) and (_connection_lost(exc) or not _answers(uri)):
            cause = "" if isinstance(exc, TrackingStoreError) else f" ({type(exc).__name__})"
            raise TrackingStoreError(f"MLflow tracking server {shown_uri(uri)}: not answering during {doing}{cause}; "
                                     f"{HINT}, then run again: the run resumes there") from None
        raise


def _connection_lost(exc: BaseException) -> bool:
    """The client lost its connection to the server (refused, reset, or cut mid-upload), here or in what caused it:
    the server went away even if something answers on its port a moment later (a server shutting down)."""
    import requests
    import urllib3

    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, requests.ConnectionError | urllib3.exceptions.ProtocolError | ConnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _answers(uri: str) -> bool:
    import requests

    try:
        return requests.get(f"{uri.rstrip('/')}/health", timeout=3).ok
    except requests.RequestException:
        return False
