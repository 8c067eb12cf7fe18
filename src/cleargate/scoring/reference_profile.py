"""The training data's drift profile, logged with every registered version's run: what a batch is compared with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cleargate.errors import CleargateError
from cleargate.evaluation.drift import PROFILE_ARTIFACT

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def load_profile(client: MlflowClient, name: str, version: str) -> dict[str, Any]:
    """The training data's drift profile, logged with the registered version's run."""
    import mlflow
    from mlflow.exceptions import MlflowException

    run_id = client.get_model_version(name, version).run_id
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=PROFILE_ARTIFACT)
    except (MlflowException, OSError):
        raise CleargateError(f"{name} v{version}: its run {run_id} has no {PROFILE_ARTIFACT}, so drift cannot be "
                             "checked; score with a version the pipeline registered") from None
    return json.loads(Path(path).read_text())
