"""A logged model loaded as production loads it (`mlflow.pyfunc`), for every caller: batch scoring, the evaluate
stage's latency measurement and the release's champion comparison."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any


class Served:
    """A logged model as cleargate's production paths (batch scoring, the model server, the release's latency
    and champion checks) call it: the model's own `predict`, which checks its columns itself, instead of MLflow's
    per-column schema check on every call (MLflow's clients keep that check, from the signature)."""

    def __init__(self, pyfunc: Any) -> None:
        self.pyfunc = pyfunc                    # MLflow's PyFuncModel: its metadata, and MLflow's own predict
        self.model = pyfunc.unwrap_python_model()

    @property
    def metadata(self) -> Any:
        return self.pyfunc.metadata

    def predict(self, rows: Any) -> Any:
        return self.model.predict(None, rows)


def load_served(model_uri: str, dst: Path | None = None) -> tuple[Served, Path]:
    """The logged model as production loads it, and the local folder it was downloaded to (under `dst` when
    given: the online server removes a version's files once it stopped serving it).

    MLflow's own check of the model's pip requirements maps every installed distribution to its modules
    first, which costs more than the rest of the load but torch's import. The model's requirements are the exact
    pins `serving.logged_model.requirements` writes, so they are
    compared here directly (a few ms), with the same warning when the environment differs."""
    import mlflow.artifacts
    import mlflow.pyfunc

    local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=None if dst is None else str(dst)))
    for line in _pin_mismatches(local / "requirements.txt"):
        logging.getLogger(__name__).warning("%s: %s", model_uri, line)
    return Served(mlflow.pyfunc.load_model(str(local), suppress_warnings=True)), local


def _pin_mismatches(requirements: Path) -> list[str]:
    """`name==version` pins of the model that the running environment does not have, described."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    lines = requirements.read_text().splitlines() if requirements.is_file() else []
    for name, _, wanted in (line.strip().partition("==") for line in lines if "==" in line):
        try:
            have = version(name).split("+")[0]
        except PackageNotFoundError:
            have = "not installed"
        if have != wanted:
            found.append(f"the model was logged with {name}=={wanted}, this environment has {have}")
    return found
