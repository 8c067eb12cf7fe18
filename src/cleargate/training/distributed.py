"""One model fitted by several processes (Lightning `ddp`): who writes, whose failure counts, what a child
command must not inherit. Imports nothing heavy, so the train stage and the flow can ask before torch loads.

A multi-process fit is its own process tree, started by the train stage's command
(`python -m cleargate.stages train --model X`): by a person, by `dvc repro`, by torchrun, or by the flow as a
subprocess. Lightning's launcher re-runs that same command for ranks 1..N-1 (with LOCAL_RANK set); torchrun
starts every rank itself (RANK set). Global rank 0 alone opens the MLflow run and writes the model folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from cleargate.config.trainer import TrainerConfig
from cleargate.errors import CleargateError

# What torch.distributed, torchrun and Lightning's launcher set for a rank: a fresh fit must not inherit them.
DIST_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "GROUP_WORLD_SIZE",
            "ROLE_RANK", "ROLE_NAME", "ROLE_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
DIST_ENV_PREFIXES = ("TORCHELASTIC_", "TORCH_NCCL_", "PL_")
CHILD_EXIT_WAIT_S = 120  # ranks 1..N-1 have nothing left to do after the fit's last barrier but exit


def multi_process(trainer: TrainerConfig) -> bool:
    """Could this trainer start several processes? (`devices: auto` may mean every visible GPU.)"""
    return trainer.devices != 1 or trainer.num_nodes != 1 or trainer.strategy.startswith("ddp")


def is_global_zero(env: Mapping[str, str] = os.environ) -> bool:
    """Known before any process group exists: torchrun sets RANK; Lightning's launcher sets LOCAL_RANK (and
    NODE_RANK on other nodes) for the processes it starts; a process with neither is the one that launches."""
    if env.get("RANK"):
        return int(env["RANK"]) == 0
    return int(env.get("NODE_RANK") or 0) == 0 and int(env.get("LOCAL_RANK") or 0) == 0


def without_distributed_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for a new fit command: none of this process's rank, world or rendezvous."""
    return {k: v for k, v in env.items() if k not in DIST_ENV and not k.startswith(DIST_ENV_PREFIXES)}


def join_launched_ranks(trainer: Any, name: str) -> None:
    """On the process that launched ranks 1..N-1 (Lightning's `ddp` launcher): wait for them and fail if any
    failed, so the command exits non-zero and DVC records nothing. Under torchrun there is nothing to join:
    torchrun itself fails the command when a rank fails."""
    launcher = getattr(trainer.strategy, "launcher", None)
    procs = list(getattr(launcher, "procs", None) or [])
    failed = []
    for rank, proc in enumerate(procs, start=1):
        code = proc.wait(timeout=CHILD_EXIT_WAIT_S)
        if code:
            failed.append(f"rank {rank} (pid {proc.pid}) exited with {code}")
    if failed:
        raise CleargateError(f"train@{name}: {'; '.join(failed)} of {len(procs) + 1} processes; nothing was "
                             "written; see that rank's lines above")
