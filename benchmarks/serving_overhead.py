"""What MLflow's pyfunc wrapper costs at serving time, against calling the same model directly.

Run after `make run`:  .venv/bin/python benchmarks/serving_overhead.py [--model-uri models:/mnist-classifier@champion]
Prints p50/p95 latency of both paths for one row and for a batch, and their ratio (measured in this run).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def percentiles(call, repeats: int) -> tuple[float, float]:  # noqa: ANN001
    from cleargate.evaluation.operational import timings_ms  # the same timer the latency gate uses

    p50, p95 = np.percentile(timings_ms(call, repeats), [50, 95])
    return float(p50), float(p95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--model-uri", default=None)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    import mlflow

    from cleargate.models.bundle import load_predictor, predict_labels
    from cleargate.params import load_project
    from cleargate.runtime import apply_offline_env
    from cleargate.tracking import connect

    apply_offline_env()
    params = load_project(Path(args.params)).scope(args.dataset)
    connect(params)
    uri = args.model_uri or f"models:/{params.registry.model_name}@champion"
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=tmp))
        served = mlflow.pyfunc.load_model(str(local))
        direct = load_predictor(next(local.rglob("model.json")).parent)
        test = __import__("pandas").read_parquet(params.layout.split("test"))
        rows = test[params.features]
        print(f"model: {uri}; {args.repeats} repeats; times in ms")
        print(f"{'case':<14}{'direct p50':>12}{'direct p95':>12}{'pyfunc p50':>12}{'pyfunc p95':>12}{'ratio p50':>11}")
        for label, batch in (("1 row", rows.head(1)), ("256 rows", rows.head(256))):
            base = percentiles(lambda b=batch: predict_labels(direct, b), args.repeats)
            wrapped = percentiles(lambda b=batch: served.predict(b), args.repeats)
            print(f"{label:<14}{base[0]:>12.2f}{base[1]:>12.2f}{wrapped[0]:>12.2f}{wrapped[1]:>12.2f}"
                  f"{wrapped[0] / base[0]:>10.1f}x")


if __name__ == "__main__":
    main()
