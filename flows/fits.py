"""A fit on several processes (`trainer.devices` > 1, strategy ddp) started from the flow: as the train stage's
own command in a subprocess, never inside the flow's task pool.

Lightning's `ddp` launcher re-runs the command of the process that fits (`sys.argv`): inside the flow or one
of its pool workers that would be a second flow run. As a child command, the process tree is the stage's own
(the same one `dvc repro` and torchrun start), its ranks come and go with it, and a failure on any rank is a
non-zero exit, reported here as the stage's failure (nothing is recorded in dvc.lock for it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

import psutil

from cleargate.errors import CleargateError
from cleargate.graph import StageCall
from cleargate.params import ProjectParams, load_project
from cleargate.processes import Running, stop
from cleargate.records import TrainRecord
from cleargate.runtime import CPUS_ENV
from cleargate.training.distributed import multi_process, without_distributed_env

FIT_STOP_GRACE_S = 5.0   # a stopped multi-process fit's ranks get this long to exit before they are killed
PARAMS_FILE = "params.yaml"  # the stage command's default, as dvc.yaml runs it: the project root's params


def own_process_tree(call: StageCall, project: ProjectParams) -> bool:
    """A deep model's fit whose trainer may start several processes."""
    return (call.stage.name == "train" and call.model is not None
            and project.train[call.model].flavour == "torch" and multi_process(project.trainer))


def fit_command(call: StageCall, project: ProjectParams, cpus: int) -> TrainRecord:
    """`python -m cleargate.stages train --model X` in the project root, without this process's distributed
    environment, on the `cpus` cores this fit was given (its ranks share them); its lines go where this
    process's go. Returns the record the command wrote."""
    params = project.root / PARAMS_FILE
    _check_same_params(params, project, call.model or "")
    command = [sys.executable, "-m", "cleargate.stages", call.stage.name, *call.argv, "--params", str(params)]
    env = {**without_distributed_env(os.environ), CPUS_ENV: str(cpus)}
    # its own session: if the run is stopped, the command and every rank it launched go with it (`stop`)
    process = subprocess.Popen(command, cwd=project.root, env=env, start_new_session=True)
    try:
        returncode = process.wait()
    except BaseException:
        with suppress(psutil.Error):
            stop(Running(process.pid, psutil.Process(process.pid).create_time(), ""), grace=FIT_STOP_GRACE_S)
        raise
    if returncode != 0:
        raise CleargateError(f"{call.dvc_name}: the fit command `{' '.join(command[1:])}` exited with "
                             f"{returncode} (its lines are above); nothing recorded for it")
    return TrainRecord.load(project.scope(call.dataset).layout.model(call.model or "").bundle.train_record)


def _check_same_params(path: Path, project: ProjectParams, model: str) -> None:
    """The command reads the project's params.yaml; a flow started on another file must not fit other values."""
    on_disk = load_project(path)
    if on_disk.trainer != project.trainer or on_disk.train.get(model) != project.train[model]:
        raise CleargateError(f"{path}: its trainer or train.{model} differ from the params this flow runs on; a "
                             "multi-process fit runs the stage command, which reads the project's params.yaml: "
                             "run the flow on that file")
