"""The GPU path on a real CUDA device: skipped, with the reason, where there is none (the decisions behind it are
tested on any machine in test_devices.py). Run on a GPU machine: `make test PYTEST_ARGS="-m gpu"`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from cleargate.models.bundle import predict_labels
from cleargate.params import ProjectParams
from cleargate.schema import LABEL
from cleargate.training.lightning import fit_deep
from tests.projects import ROOT, tiny_params

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]


def _digits() -> tuple:
    from benchmarks.common import splits

    project = ProjectParams.model_validate(tiny_params()).resolve(ROOT)
    params = project.scope("digits")
    return params, splits(params)


@pytest.mark.parametrize("compiled", [False, True])
def test_a_fit_on_the_gpu_uses_bf16_keeps_the_data_there_and_learns(compiled: bool):
    params, parts = _digits()
    trainer = params.trainer.model_copy(update={"accelerator": "gpu", "devices": 1, "compile": compiled})
    epochs: dict[int, dict[str, float]] = {}
    bundle = fit_deep("cnn", params.model("cnn"), trainer, params.dataset, parts["train"], parts["val"],
                      params.seed, on_epoch=lambda e, m: epochs.setdefault(e, {}).update(m))
    assert bundle.record.device.startswith("cuda"), bundle.record.device
    assert all(m["gpu_memory_peak_mb"] > 0 for m in epochs.values()), "the device's memory, per epoch, in MLflow"
    assert next(bundle.model.parameters()).device.type == "cpu", "the bundle is written and served from the CPU"
    test = parts["test"]
    accuracy = float((predict_labels(bundle.predictor(), test) == test[LABEL]).mean())
    assert accuracy > 0.85, accuracy


def test_the_throughput_benchmark_runs_on_the_gpu():
    done = subprocess.run([sys.executable, "gpu_throughput.py", "--epochs", "2", "--rows", "2000"],
                          cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    expected = "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    assert result["device"].startswith("cuda") and result["precision"] == expected, result
    assert result["ratio"] > 0 and result["cleargate_images_per_s"] > 0
