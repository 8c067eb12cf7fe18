"""Rebuild one model inside a checkout: the splits it was trained on restored from DVC storage, then
`dvc repro` of its train and evaluate stages.

Everything that reads the project's files runs with the checkout's own code (a probe run with the checkout's
`src` on the path), so a version is measured the way the code of its commit measured it. The rebuild logs to a
scratch MLflow store and puts nothing in the DVC cache: a reproduction registers nothing and changes nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleargate.errors import CleargateError
from cleargate.reproduce.worktree import command, dvc, last_line

SOURCE = "src"   # where the package lives in the repository (pyproject's package-dir)

# Run with the checkout's code: what the stages of that commit would say about their own files.
PROBE = """
import json, sys
from cleargate.io import read_table
from cleargate.layout import SPLITS
from cleargate.tracking.lineage import model_digest, params_digest
from cleargate.params import load_project
from cleargate.records import Evaluation
from cleargate.preparation.splitting import split_digest
project = load_project("params.yaml")
model, phase = sys.argv[1], sys.argv[2]
params = project.scope(project.dataset_of(model))
layout = params.layout
if phase == "checked-out":
    out = {"dataset": params.dataset.name, "params_sha256": params_digest(params),
           "splits": str(layout.processed.relative_to(params.root))}
else:
    out = {"metrics": Evaluation.load(layout.model(model).metrics).scalars(),
           "model_sha256": model_digest(layout.model(model).dir),
           "split_sha256": split_digest({s: read_table(layout.split(s)) for s in SPLITS})}
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Rebuilt:
    metrics: dict[str, float]
    model_sha256: str
    split_sha256: str    # of the restored splits it was trained and tested on
    seconds: float


def environment(tree_project: Path, scratch: Path) -> dict[str, str]:
    """The checkout's code first on the path, this environment's tools, and a scratch tracking store."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tree_project / SOURCE), env.get("PYTHONPATH")) if p)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{scratch / 'mlflow.db'}"
    env.pop("MLFLOW_REGISTRY_URI", None)
    return env


def probe(tree_project: Path, env: dict[str, str], model: str, phase: str) -> dict[str, Any]:
    done = command([sys.executable, "-c", PROBE, model, phase], tree_project, env)
    if done.returncode != 0:
        raise CleargateError(f"{tree_project}: the checked-out code could not read model '{model}' "
                             f"({last_line(done)})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def restore(tree_project: Path, env: dict[str, str], dataset: str, splits: str, cache: Path, label: str) -> str:
    """The dataset's splits as the version's dvc.lock names them, from the cache, else from a remote."""
    target = f"split@{dataset}"
    if dvc(["checkout", target], tree_project, env).returncode == 0:
        return f"the DVC cache {cache}"
    listed = dvc(["remote", "list"], tree_project, env).stdout.splitlines()
    remotes = [line.split()[0] for line in listed if line.strip()]
    if remotes and dvc(["pull", target], tree_project, env).returncode == 0:
        return f"the DVC remote {remotes[0]}"
    where = f" nor in the remote(s) {', '.join(remotes)}" if remotes else ", and no DVC remote is configured"
    raise CleargateError(f"{label}: {splits}/ (the splits its dvc.lock names) not found in the DVC cache "
                         f"{cache}{where}; `dvc push` them from where it was built to a remote configured here "
                         "(`dvc remote add -d`), then run reproduce again")


def rebuild(tree_project: Path, env: dict[str, str], model: str) -> Rebuilt:
    """`dvc repro` of the model's train and evaluate stages, forced, nothing taken from or put in the cache."""
    started = time.perf_counter()
    stages = [f"train@{model}", f"evaluate@{model}"]
    done = dvc(["repro", "--force", "--single-item", "--no-commit", "--no-run-cache", *stages], tree_project, env)
    if done.returncode != 0:
        raise CleargateError(f"{tree_project}: `dvc repro {' '.join(stages)}` failed at the version's commit "
                             f"({last_line(done)})")
    seconds = time.perf_counter() - started
    built = probe(tree_project, env, model, "built")
    return Rebuilt(built["metrics"], built["model_sha256"], built["split_sha256"], seconds)
