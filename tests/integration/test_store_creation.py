"""A new SQLite tracking store created by several processes at once (two flows started together by `make serve`'s
schedules, a monitoring pass and a training run): one creates the tables, the others wait and find them all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import sys, time
from mlflow.tracking import MlflowClient
from cleargate.tracking.store import _create_tables
uri = sys.argv[1]
while time.time() < float(sys.argv[2]):  # every process starts at the same instant
    time.sleep(0.001)
_create_tables(uri)
print(len(MlflowClient(uri).search_experiments()))
"""


@pytest.mark.slow
def test_processes_creating_a_new_store_at_once_all_find_every_table(tmp_path: Path):
    import time

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = str(time.time() + 15)  # after every interpreter has imported MLflow
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, uri, start], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert out.strip() == "1", out  # the Default experiment, in every process's view
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["mlflow.db"], \
        "no half-built store left beside it"
