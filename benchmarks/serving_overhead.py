"""What the served model costs at serving time, against calling the same model bundle directly.

Run after `make run`:  .venv/bin/python benchmarks/serving_overhead.py [--dataset mnist] [--repeats 200]
Loads `models:/<name>@champion` as cleargate's scoring and model server do (`serving.loading`: the pyfunc's own
predict, which checks its columns itself) and, in the same process, the bundle it wraps; prints p50/p95 of one
row and of 256 rows for both paths and the ratio (goal: <= 3x the bare model). MLflow's generic predict, which
also checks every row against the model's signature (what MLflow's clients use), is timed beside them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from common import ROOT  # noqa: F401 - puts src/ on the path


def percentiles(call, repeats: int) -> tuple[float, float]:
    from cleargate.evaluation.operational import timings_ms  # the same timer the latency gate uses

    p50, p95 = np.percentile(timings_ms(call, repeats), [50, 95])
    return float(p50), float(p95)


def measure(params, repeats: int, model_uri: str | None = None) -> dict:
    import mlflow
    import pandas as pd

    from cleargate.models.bundle import ModelBundle, predict_labels
    from cleargate.serving.loading import Served
    from cleargate.serving.pyfunc import _single_threaded
    from cleargate.tracking import connect

    connect(params)
    uri = model_uri or f"models:/{params.registry.model_name}@champion"
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=tmp))
        generic = mlflow.pyfunc.load_model(str(local))
        served = Served(generic)
        bundle = ModelBundle.load(next(local.rglob("model.json")).parent)
        if bundle.manifest.flavour == "sklearn":
            _single_threaded(bundle.model)
        direct = bundle.predictor()
        rows = pd.read_parquet(params.layout.split("test"))[params.features]
        result = {"model": uri, "flavour": bundle.manifest.flavour, "repeats": repeats}
        for label, batch in (("1_row", rows.head(1)), ("256_rows", rows.head(256))):
            base = percentiles(lambda b=batch: predict_labels(direct, b), repeats)
            wrapped = percentiles(lambda b=batch: served.predict(b), repeats)
            checked = percentiles(lambda b=batch: generic.predict(b), repeats)
            result[label] = {"bare_p50_ms": base[0], "bare_p95_ms": base[1], "pyfunc_p50_ms": wrapped[0],
                             "pyfunc_p95_ms": wrapped[1], "ratio_p50": wrapped[0] / base[0],
                             "mlflow_p50_ms": checked[0], "ratio_mlflow_p50": checked[0] / base[0]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--model-uri", default=None)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    from cleargate.params import load_project
    from cleargate.runtime import apply_offline_env, quiet_third_party

    apply_offline_env()
    quiet_third_party(False)
    result = measure(load_project(Path(args.params)).scope(args.dataset), args.repeats, args.model_uri)
    for label in ("1_row", "256_rows"):
        r = result[label]
        print(f"{result['model']} ({result['flavour']}) {label}: bare p50 {r['bare_p50_ms']:.2f} ms, pyfunc p50 "
              f"{r['pyfunc_p50_ms']:.2f} ms: {r['ratio_p50']:.2f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
