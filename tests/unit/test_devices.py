"""What a fit decides from its device and its process's rank: each decision is checked here for a GPU too,
on any machine (only the speed of a GPU needs one: tests/unit/test_gpu.py)."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest
import torch

from cleargate.config.trainer import TrainerConfig
from cleargate.training.batches import batch_loader
from cleargate.training.devices import (
    DEVICE_MEMORY_SHARE,
    channels_last,
    deterministic_for,
    placement,
    precision_for,
    sync_batchnorm_for,
    unfilled_new_tensors,
)
from cleargate.training.distributed import is_global_zero, multi_process, without_distributed_env
from tests.projects import ROOT

CUDA, CPU = torch.device("cuda", 0), torch.device("cpu")


def test_precision_auto_is_bf16_on_a_gpu_that_has_it_and_32_bit_elsewhere():
    assert precision_for("auto", CPU) == "32-true"
    assert precision_for("auto", CUDA, bf16_supported=True) == "bf16-mixed"
    assert precision_for("auto", CUDA, bf16_supported=False) == "32-true"
    assert precision_for("16-mixed", CUDA, bf16_supported=True) == "16-mixed", "params.yaml says otherwise"
    assert precision_for("bf16-mixed", CPU) == "bf16-mixed"


def test_deterministic_fits_on_a_gpu_warn_where_torch_has_no_deterministic_kernel():
    assert deterministic_for(True, CUDA) == "warn" and deterministic_for(True, CPU) is True
    assert deterministic_for(False, CUDA) is False


def _deterministic_fit(fill: bool) -> dict[str, torch.Tensor]:
    """A few seeded steps of a small conv + LSTM network under deterministic algorithms."""
    import torch.utils.deterministic as settings

    torch.manual_seed(0)
    conv, lstm, head = torch.nn.Conv1d(3, 8, 3), torch.nn.LSTM(8, 16, 2, batch_first=True), torch.nn.Linear(16, 4)
    modules = torch.nn.ModuleList([conv, lstm, head])
    optimiser = torch.optim.AdamW(modules.parameters(), lr=0.01)
    x, y = torch.randn(32, 3, 20), torch.randint(0, 4, (32,))
    torch.use_deterministic_algorithms(True)
    try:
        with contextlib.nullcontext() if fill else unfilled_new_tensors():
            assert settings.fill_uninitialized_memory is fill
            for _ in range(5):
                optimiser.zero_grad()
                out, _ = lstm(conv(x).transpose(1, 2))
                torch.nn.functional.cross_entropy(head(out[:, -1]), y).backward()
                optimiser.step()
    finally:
        torch.use_deterministic_algorithms(False)
    return {k: v.clone() for k, v in modules.state_dict().items()}


def test_deterministic_fits_skip_the_nan_fill_of_new_tensors_and_get_the_same_weights():
    import torch.utils.deterministic as settings

    assert settings.fill_uninitialized_memory is True
    filled, unfilled = _deterministic_fit(fill=True), _deterministic_fit(fill=False)
    assert settings.fill_uninitialized_memory is True, "restored after the fit"
    assert all(torch.equal(filled[k], unfilled[k]) for k in filled)


def test_batch_norm_synchronised_across_gpu_ranks_only():
    assert sync_batchnorm_for(True, CUDA) and not sync_batchnorm_for(False, CUDA)
    assert not sync_batchnorm_for(True, CPU), "torch's SyncBatchNorm has no CPU kernel (gloo ranks)"


def test_channels_last_for_image_batches_on_a_gpu_only():
    images, windows = torch.zeros(2, 1, 8, 8), torch.zeros(2, 40, 6)
    assert channels_last(images, CUDA) and not channels_last(images, CPU) and not channels_last(windows, CUDA)


def test_a_split_that_fits_moves_to_the_gpu_once_else_pinned_memory_and_workers():
    free = 10_000_000
    on_device = placement(CUDA, int(DEVICE_MEMORY_SHARE * free), free_bytes=free)
    assert on_device.resident and on_device.device == CUDA and on_device.workers == 0 and not on_device.pin_memory
    host = placement(CUDA, int(DEVICE_MEMORY_SHARE * free) + 1, free_bytes=free)
    assert not host.resident and host.pin_memory and host.workers >= 1
    cpu = placement(CPU, 10**12)
    assert cpu.device == CPU and not cpu.pin_memory and cpu.workers == 0, "on a CPU the data already is there"


def test_batches_from_worker_processes_are_the_batches_of_the_main_process():
    inputs, labels = torch.arange(200.0).reshape(100, 2), torch.arange(100)
    plain = list(batch_loader(inputs, labels, 16, True, seed=3))
    workers = list(batch_loader(inputs, labels, 16, True, seed=3, workers=2))
    assert len(plain) == len(workers) == 7
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(plain, workers, strict=True))


@pytest.mark.parametrize(("env", "zero"), [
    ({}, True),                                                   # one process, or the one that launches
    ({"LOCAL_RANK": "1", "NODE_RANK": "0", "WORLD_SIZE": "2"}, False),   # Lightning's launcher, rank 1
    ({"LOCAL_RANK": "0", "NODE_RANK": "1"}, False),                # first process of the second node
    ({"RANK": "0", "LOCAL_RANK": "0"}, True), ({"RANK": "3", "LOCAL_RANK": "1"}, False),   # torchrun
])
def test_only_global_rank_zero_writes(env: dict[str, str], zero: bool):
    assert is_global_zero(env) is zero


def test_a_new_fit_command_inherits_no_rank_or_rendezvous():
    env = {"PATH": "/bin", "RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "x", "PL_GLOBAL_SEED": "42", "CLEARGATE_VERBOSE": "0"}
    assert without_distributed_env(env) == {"PATH": "/bin", "CLEARGATE_VERBOSE": "0"}


def test_several_devices_or_ddp_means_several_processes():
    base = dict(accelerator="cpu", devices=1, strategy="auto", num_nodes=1, precision="auto", deterministic=True)
    assert not multi_process(TrainerConfig(**base))
    assert multi_process(TrainerConfig(**{**base, "devices": 2, "strategy": "ddp"}))
    assert multi_process(TrainerConfig(**{**base, "devices": "auto"})), "auto may take every visible GPU"
    assert multi_process(TrainerConfig(**{**base, "num_nodes": 2}))


def test_the_default_trainer_is_one_device_with_precision_chosen_for_it():
    import yaml

    trainer = yaml.safe_load((ROOT / "params.yaml").read_text())["trainer"]
    assert trainer["devices"] == 1 and trainer["precision"] == "auto" and trainer["compile"] is False


def test_make_setup_torch_cuda_installs_the_pinned_version_without_the_cpu_tag(tmp_path: Path):
    """The command line `make setup TORCH=cuda` runs, and what pip reads from it (the CUDA wheel is not fetched)."""
    plan = subprocess.run(["make", "-n", "setup", "TORCH=cuda", f"VENV={tmp_path}/venv"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    install = next(line for line in plan.splitlines() if "pip install --quiet -r" in line)
    requirements = install.split(" -r ", 1)[1]
    read = subprocess.run(["bash", "-c", f"cat {requirements}"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.splitlines()
    pinned = next(line for line in (ROOT / "requirements.lock").read_text().splitlines() if line.startswith("torch=="))
    assert pinned.endswith("+cpu") and pinned.removesuffix("+cpu") in read and pinned not in read
    assert len(read) == len((ROOT / "requirements.lock").read_text().splitlines()), "every other pin unchanged"
    assert f"touch {tmp_path}/venv/.installed-cuda" in plan, "the choice is remembered"
    cpu = subprocess.run(["make", "-n", "setup", f"VENV={tmp_path}/venv"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "-r requirements.lock" in cpu and f"touch {tmp_path}/venv/.installed\n" in cpu
    wrong = subprocess.run(["make", "setup", "TORCH=rocm", f"VENV={tmp_path}/venv"], cwd=ROOT, capture_output=True,
                           text=True)
    assert wrong.returncode != 0 and "use TORCH=cpu or TORCH=cuda" in wrong.stderr
