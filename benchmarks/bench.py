"""`make bench`: every performance figure of the pipeline as a ratio measured side by side in this run.

Run:  .venv/bin/python benchmarks/bench.py [--tiny] [--out benchmarks/results.json]
Each row's baseline is measured in the same run, on the same machine (never against a number from another
day): the pipeline's overhead against its own fitting, a no-op rerun against the first run, cleargate's Lightning fit
against a hand-written loop, the served pyfunc against the bare model, the flow against DVC's own driver, `cleargate
score` at 10k to 1M rows (wall time, rows/s, peak memory), at 50k also against MLflow's bare pyfunc on the same
file, and `cleargate serve-model` against `mlflow models serve` on the same version under the same locust load.
`--tiny` runs every row on a tiny configuration (the test suite does, so the benchmarks never rot); its figures are
not the goals'.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from common import ROOT

STAGES = ["ingest", "validate", "clean", "split", "train", "evaluate", "gate", "promote"]


def _params(tiny: bool, images: bool = False) -> dict[str, Any]:
    """The project's params.yaml; tiny: the test suite's shrunk config (trees on the breast-cancer records, or
    the small CNN on 8x8 digits for the Lightning row)."""
    if not tiny:
        return yaml.safe_load((ROOT / "params.yaml").read_text())
    sys.path.insert(0, str(ROOT))
    from tests.projects import tiny_params

    return tiny_params() if images else tiny_params("breast_cancer", digits=False)


def _rows(results: dict[str, Any], tiny: bool) -> list[tuple[str, str, str, bool | None]]:
    """(figure, measured, goal, met) for the table."""
    pipe, rows = results["pipeline"], []
    rows.append(("pipeline overhead: (wall - fitting) / fitting", f"{pipe['overhead']:.2f}", "<= 0.30",
                 pipe["overhead"] <= 0.30))
    rows.append(("no-op rerun, share of the first run", f"{pipe['noop_share']:.1%}", "<= 5 %",
                 pipe["noop_share"] <= 0.05))
    for name, parity in results["lightning"].items():
        rows.append((f"Lightning fit / hand loop, {name} (medians of {parity['repeats']})",
                     f"{parity['ratio']:.3f}x", "<= 1.05x", parity["ratio"] <= 1.05))
    for name, serving in results["serving"].items():
        one = serving["1_row"]
        rows.append((f"pyfunc / bare model, 1 row, {serving['flavour']} ({name})",
                     f"{one['ratio_p50']:.2f}x (p50 {one['pyfunc_p50_ms']:.1f} ms)", "<= 3x",
                     one["ratio_p50"] <= 3))
        rows.append((f"MLflow's predict with the signature check / bare, 1 row, {serving['flavour']} ({name})",
                     f"{one['ratio_mlflow_p50']:.2f}x (p50 {one['mlflow_p50_ms']:.1f} ms)", "reference", None))
    sizes = results["scoring"]["sizes"]
    for size in sizes:
        rows.append((f"cleargate score, {size['rows']:,} rows ({results['scoring']['dataset']}), end to end",
                     f"{size['seconds']:.1f} s, {size['rows_per_s']:,} rows/s, peak {size['peak_mb']:.0f} MB",
                     "<= 10 s, <= 1 GB" if size["rows"] == 50_000 else "<= 1 GB",
                     size["rc"] == 0 and size["peak_mb"] <= 1024 and (size["rows"] != 50_000 or size["seconds"] <= 10)))
    for size in (s for s in sizes if "bare" in s):  # the floor under the goal, on the same file (scoring_scale.BARE)
        bare = size["bare"]
        rows.append((f"bare MLflow pyfunc on the same {size['rows']:,} rows: read, load_model, predict (the floor)",
                     f"{bare['seconds']:.1f} s, peak {bare['peak_mb']:.0f} MB", "reference", None))
        rows.append((f"cleargate score / bare pyfunc, {size['rows']:,} rows (validation, drift, streaming, report)",
                     f"{size['seconds'] / bare['seconds']:.2f}x", "reference", None))
    if len(sizes) > 1:
        growth = sizes[-1]["peak_mb"] / sizes[0]["peak_mb"]
        rows.append((f"peak memory, {sizes[-1]['rows']:,} rows / {sizes[0]['rows']:,} rows", f"{growth:.2f}x",
                     "<= 1.25x (flat)", growth <= 1.25))
    drivers = results["drivers"]
    rows.append((f"dvc repro --force / flow, {drivers['dataset']} stages {drivers['stages'][0]} to "
                 f"{drivers['stages'][-1]}",
                 f"{drivers['flow_vs_dvc']:.2f}x",
                 "> 1 (flow ahead)", drivers["flow_vs_dvc"] > 1))
    for dataset, online in results["online"].items():
        rows += _online_rows(dataset, online)
    return [(f, v, g, None if tiny else ok) for f, v, g, ok in rows]


def _online_rows(dataset: str, online: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """cleargate serve-model against `mlflow models serve` on the same version, the same locust load."""
    ours, theirs = online["cleargate"], online["mlflow"]
    sound = online["same_labels"] and all(run["failures"] == 0 for run in ours.values())
    what = f"{online['family']} ({dataset})"
    rows = []
    for scenario, clients in (("1_client", "1 client"), ("8_clients", "8 clients")):
        a, b = ours[scenario], theirs[scenario]
        rows.append((f"online p50, 1 row, {clients}, {what}: cleargate serve-model / mlflow models serve",
                     f"{a['p50_ms'] / b['p50_ms']:.2f}x ({a['p50_ms']:.1f} vs {b['p50_ms']:.1f} ms)", "<= 1x",
                     sound and a["p50_ms"] <= b["p50_ms"]))
        rows.append((f"online p99, 1 row, {clients}, {what}: cleargate / mlflow",
                     f"{a['p99_ms'] / b['p99_ms']:.2f}x ({a['p99_ms']:.1f} vs {b['p99_ms']:.1f} ms)", "reference",
                     None))
    a, b = ours["rows_64"], theirs["rows_64"]
    rows.append((f"online rows/s, 64 rows a request, 8 clients, {what}: cleargate / mlflow",
                 f"{a['rows_per_s'] / b['rows_per_s']:.2f}x ({a['rows_per_s']:,.0f} vs {b['rows_per_s']:,.0f})",
                 ">= 1.5x", sound and a["rows_per_s"] >= 1.5 * b["rows_per_s"]))
    return rows


def measure(tiny: bool) -> dict[str, Any]:
    from lightning_parity import measure as lightning
    from online_serving import measure as online
    from pipeline_overhead import measure_drivers, measure_overhead, scratch_project
    from scoring_scale import score_sizes
    from serving_overhead import measure as serving

    from cleargate.params import load_project

    with tempfile.TemporaryDirectory() as tmp:
        root = scratch_project(Path(tmp), _params(tiny))
        results: dict[str, Any] = {"pipeline": measure_overhead(root)}
        project = load_project(root / "params.yaml")
        if tiny:
            images = Path(tmp) / "images.yaml"
            images.write_text(yaml.safe_dump(_params(tiny, images=True), sort_keys=False))
            results["lightning"] = {"cnn": lightning("cnn", 1, 256, str(images), repeats=2)}
        else:
            results["lightning"] = {m: lightning(m, 3, None, str(root / "params.yaml"), repeats=3)
                                    for m in ("mnist_cnn", "rehab_lstm")}
        served = ["breast_cancer"] if tiny else ["mnist", "breast_cancer"]
        results["serving"] = {d: serving(project.scope(d), 20 if tiny else 200) for d in served}
        scored = "breast_cancer" if tiny else "mnist"
        with tempfile.TemporaryDirectory() as batches:
            results["scoring"] = {"dataset": scored, "sizes": score_sizes(
                root / "params.yaml", [500, 5_000] if tiny else [10_000, 50_000, 100_000, 1_000_000],
                Path(batches), dataset=scored, bare_rows=5_000 if tiny else 50_000)}
        release = STAGES[STAGES.index("gate"):]   # tiny: gate and promote, no fit
        results["drivers"] = measure_drivers(root, "breast_cancer", release if tiny else STAGES)
        with tempfile.TemporaryDirectory() as load:  # last: it serves the champions the runs above registered
            results["online"] = {d: online(root, d, 1 if tiny else 20, Path(load)) for d in served}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    from cleargate.runtime import apply_offline_env, quiet_third_party

    apply_offline_env()
    quiet_third_party(False)
    results = measure(args.tiny)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = Table(title=f"cleargate benchmarks ({'tiny' if args.tiny else 'default'} config; {machine})")
    for column in ("figure", "measured", "goal", "met"):
        table.add_column(column)
    rows = _rows(results, args.tiny)
    for figure, value, goal, met in rows:
        table.add_row(figure, value, goal, {True: "yes", False: "NO", None: "-"}[met])
    Console(soft_wrap=True).print(table)
    payload = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine,
               "tiny": args.tiny, "rows": [dict(zip(("figure", "measured", "goal", "met"), r, strict=True))
                                           for r in rows], "raw": results}
    Path(args.out).write_text(json.dumps(payload, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
