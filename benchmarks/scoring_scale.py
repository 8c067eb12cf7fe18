"""Batch scoring at scale: wall time, rows/s and peak memory of `cleargate score` as the batch grows.

Run after `make run` (a registered champion of the dataset is needed):
    .venv/bin/python benchmarks/scoring_scale.py [--rows 10000 50000 100000 1000000] [--dataset mnist]
        [--model NAME/VERSION | --register mnist_hgb] [--src OTHER/src] [--json out.json]
Batches are rows drawn with replacement from the dataset's own test split (real images: no drift), written
in row groups of 50,000 rows. Each size runs `cleargate score` in a fresh process, as a user runs it: wall
time end to end (start-up included) and the process's peak resident memory (ru_maxrss of that child). It
also times the answer to a bad model reference (`NAME/999`) and `import cleargate.cli`, start-up alone.
`--src` runs another checkout's code (its `src` folder) against the same files, for before/after figures
measured side by side. `--bare-rows N` also times, on the N-row file, the floor any scorer of a registered
model pays (`BARE`): MLflow's pyfunc alone, with no validation, drift, streaming or report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# The child writes its own peak resident memory (VmHWM of /proc/self/status) as it exits. Not ru_maxrss from
# wait4: Linux carries the memory high-water mark of the process image replaced by exec into the child's
# maxrss, and Python starts children with vfork, so that figure was the *benchmark's* own peak whenever it was
# larger (measured: 908-1448 MB reported for a child whose own peak was 631-759 MB).
PEAK_ENV = "CLEARGATE_BENCH_PEAK_FILE"
PEAK = ("import atexit, os\n"
        "def _peak():\n"
        "    with open('/proc/self/status') as s, open(os.environ['" + PEAK_ENV + "'], 'w') as out:\n"
        "        out.write(next(line for line in s if line.startswith('VmHWM:')))\n"
        "atexit.register(_peak)\n")
CLI = PEAK + "from cleargate.cli import app; app()"
# The floor: what scoring a file with a registered model costs with nothing of cleargate's around it. MLflow's own
# pyfunc, as a user would call it by hand: read the whole file, load the model, one `predict` of every row on every
# core (the threads `cleargate score` gives a model), nothing checked, nothing written. Its imports, model load and
# forward passes are the part of `cleargate score` no pipeline code can remove.
BARE = PEAK + ("import sys\n"
               "import mlflow.pyfunc, pandas as pd\n"
               "frame = pd.read_parquet(sys.argv[1])\n"
               "labels = mlflow.pyfunc.load_model(sys.argv[2]).predict(frame)\n"
               "print(f'{len(labels)} rows predicted')\n")
GROUP_ROWS = 50_000


def make_batch(test_split: Path, features: list[str], rows: int, path: Path, seed: int = 0) -> Path:
    """`rows` rows drawn with replacement from the test split, written piece by piece (bounded memory)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    pool = pd.read_parquet(test_split, columns=features)
    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, GROUP_ROWS):
        piece = pool.iloc[rng.integers(0, len(pool), min(GROUP_ROWS, rows - start))].reset_index(drop=True)
        table = pa.Table.from_pandas(piece, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return path


def run_cli(args: list[str], cwd: Path, src: Path | None = None) -> dict[str, Any]:
    """One `cleargate ...` process: exit code, wall seconds, its own peak RSS (MB, VmHWM as it exits; see
    PEAK_ENV), and the last line it printed."""
    return run_child(CLI, args, cwd, src)


def run_child(code: str, args: list[str], cwd: Path, src: Path | None = None,
              env_extra: dict[str, str] | None = None) -> dict[str, Any]:
    """`python -c code args...` in `cwd`, measured as `run_cli` says (`code` starts with PEAK)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    env.pop("MLFLOW_TRACKING_URI", None)
    env.update(env_extra or {})
    with tempfile.TemporaryFile("w+") as output, tempfile.NamedTemporaryFile("r", suffix=".peak") as peak:
        env[PEAK_ENV] = peak.name
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=cwd, env=env, text=True,
                                stdout=output, stderr=subprocess.STDOUT)
        proc.wait()
        seconds = time.perf_counter() - started
        output.seek(0)
        lines = [line for line in output.read().splitlines() if line.strip()]
        written = peak.read().split()  # ["VmHWM:", "<kB>", "kB"]
    return {"rc": proc.returncode, "seconds": round(seconds, 2),
            "peak_mb": round(int(written[1]) / 1024, 1) if len(written) > 1 else float("nan"),
            "last_line": lines[-1] if lines else ""}


def score_sizes(params_path: Path, sizes: list[int], workdir: Path, src: Path | None = None,
                dataset: str | None = None, model: str | None = None,
                bare_rows: int | None = None) -> list[dict[str, Any]]:
    """`cleargate score` of a batch of each size; at `bare_rows`, also the bare pyfunc (`BARE`) on the same file."""
    from cleargate.params import load_project

    project = load_project(params_path)
    params = project.scope(dataset or next(iter(project.datasets)))
    model = model or f"{params.registry.model_name}@champion"
    results = []
    for rows in sizes:
        batch = make_batch(params.layout.split("test"), params.features, rows, workdir / f"batch-{rows}.parquet")
        run = run_cli(["score", str(batch), "--model", model, "--params", str(params_path)], params_path.parent, src)
        results.append({"rows": rows, **run, "rows_per_s": round(rows / run["seconds"]),
                        "file_mb": round(batch.stat().st_size / 2**20, 1)})
        if rows == bare_rows:
            results[-1]["bare"] = bare_pyfunc(params, batch, model, params_path.parent, src)
        batch.unlink()
    return results


def bare_pyfunc(params: Any, batch: Path, model: str, cwd: Path, src: Path | None = None) -> dict[str, Any]:
    """The floor (`BARE`) on `batch`: the same store, the same model version, the threads `cleargate score` uses."""
    from cleargate.serving.pyfunc import THREADS_ENV
    from cleargate.tracking.store import tracking_uri

    env = {"MLFLOW_TRACKING_URI": tracking_uri(params), THREADS_ENV: str(os.cpu_count() or 1)}
    return run_child(BARE, [str(batch), f"models:/{model}"], cwd, src, env)


def startup(params_path: Path, workdir: Path, src: Path | None = None, dataset: str | None = None) -> dict[str, Any]:
    """Seconds to import the CLI, and to answer a reference to a version that does not exist."""
    from cleargate.params import load_project

    project = load_project(params_path)
    params = project.scope(dataset or next(iter(project.datasets)))
    batch = make_batch(params.layout.split("test"), params.features, 10, workdir / "tiny.parquet")
    env = {**os.environ, **({"PYTHONPATH": str(src)} if src else {})}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import cleargate.cli"], check=True, env=env, cwd=params_path.parent)
    imported = time.perf_counter() - started
    bad = run_cli(["score", str(batch), "--model", f"{params.registry.model_name}/999", "--params", str(params_path)],
                  params_path.parent, src)
    return {"import_cli_s": round(imported, 2), "bad_ref_s": bad["seconds"], "bad_ref_rc": bad["rc"],
            "bad_ref_line": bad["last_line"]}


def register(params_path: Path, dataset: str, model: str) -> str:
    """Register a trained model of the dataset (`models/<d>/<model>`, e.g. a tree) as a new version, no alias,
    with the training data's drift profile: the 1M-row run then measures scoring, not hours of CNN compute."""
    import mlflow
    import pandas as pd

    from cleargate.evaluation.drift import PROFILE_ARTIFACT, reference_profile
    from cleargate.params import load_project
    from cleargate.serving.logged_model import log_model_artifact
    from cleargate.tracking import connect

    params = load_project(params_path).scope(dataset)
    client = connect(params)
    train = pd.read_parquet(params.layout.split("train"))
    with mlflow.start_run(run_name=f"benchmark-{model}") as run:
        uri = log_model_artifact(params.layout.model(model).dir, train[params.features].head(5))
        client.log_dict(run.info.run_id, reference_profile(train, params.features, params.drift.bins),
                        PROFILE_ARTIFACT)
    version = client.create_model_version(params.registry.model_name, uri, run_id=run.info.run_id,
                                          tags={"benchmark": model})
    return f"{params.registry.model_name}/{version.version}"


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"{'rows':>9} {'seconds':>8} {'rows/s':>8} {'peak MB':>8} {'file MB':>8}  rc  outcome"]
    for r in results:
        lines.append(f"{r['rows']:>9} {r['seconds']:>8.1f} {r['rows_per_s']:>8} {r['peak_mb']:>8.0f} "
                     f"{r['file_mb']:>8.1f} {r['rc']:>3}  {r['last_line'][:70]}")
        if "bare" in r:
            b = r["bare"]
            lines.append(f"{'(bare)':>9} {b['seconds']:>8.1f} {round(r['rows'] / b['seconds']):>8} "
                         f"{b['peak_mb']:>8.0f} "
                         f"{r['file_mb']:>8.1f} {b['rc']:>3}  MLflow pyfunc alone: {b['last_line'][:48]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--model", default=None, help="default: the dataset's champion")
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000, 100_000, 1_000_000])
    parser.add_argument("--src", type=Path, default=None, help="run this checkout's src instead (before/after)")
    parser.add_argument("--workdir", type=Path, default=None, help="where batches are written (default: a temp folder)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--bare-rows", type=int, default=None, help="also time the bare MLflow pyfunc at this size")
    parser.add_argument("--register", metavar="MODEL", default=None,
                        help="first register this trained model of the dataset (e.g. mnist_hgb) and score with it")
    args = parser.parse_args()

    from cleargate.runtime import apply_offline_env

    apply_offline_env()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        run(args, workdir)


def run(args: argparse.Namespace, workdir: Path) -> None:
    params_path = args.params.resolve()
    if args.register:
        args.model = register(params_path, args.dataset, args.register)
        print(f"registered {args.register} as {args.model}")
    start = startup(params_path, workdir, args.src, args.dataset)
    print(f"start-up: import cleargate.cli {start['import_cli_s']} s; bad model reference answered in "
          f"{start['bad_ref_s']} s (exit {start['bad_ref_rc']}): {start['bad_ref_line']}")
    results = score_sizes(params_path, args.rows, workdir, args.src, args.dataset, args.model, args.bare_rows)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"startup": start, "scoring": results, "machine": _machine()}, indent=2) + "\n")


def _machine() -> str:
    import platform

    return f"{platform.node()}: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}"


if __name__ == "__main__":
    main()
