"""Every deep model of params.yaml fitted on this machine's device the way the train stage fits it: the same
`fit_deep`, the same `trainer` settings (`accelerator: auto`, `precision: auto`), the same real data and splits.

Run:  .venv/bin/python benchmarks/gpu_models.py [--models mnist_cnn rehab_lstm] [--epochs N] [--rows N]
It needs none of MLflow, DVC or Prefect (only the fit and its data), so it also runs on a GPU machine that
cannot install the whole lock file. Prints a line per model (device, precision, epochs run, fit seconds, test
accuracy) and a last JSON line with all of them. `--epochs`/`--rows` shorten it (a quick check on a CPU).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from common import ROOT, seconds, splits


def deep_models(params_path: str) -> list[str]:
    """The torch models `make run` trains (the uncommented entries of params.yaml's `train`)."""
    from cleargate.params import load_project

    project = load_project(params_path)
    return [name for name, config in project.train.items() if config.flavour == "torch"]


def measure(model: str, params_path: str, epochs: int | None = None, rows: int | None = None) -> dict[str, Any]:
    import torch

    from cleargate.models.bundle import predict_labels
    from cleargate.params import load_project
    from cleargate.schema import LABEL
    from cleargate.training.devices import precision_for
    from cleargate.training.lightning import fit_deep

    project = load_project(params_path)
    params = project.scope(project.dataset_of(model))
    config = params.model(model)
    if epochs:
        config = config.model_copy(update={"max_epochs": epochs, "patience": epochs + 1})
    parts = {name: part.head(rows) if rows else part for name, part in splits(params).items()}
    fit_s, bundle = seconds(lambda: fit_deep(model, config, params.trainer, params.dataset, parts["train"],
                                             parts["val"], params.seed))
    test = parts["test"]
    accuracy = float((predict_labels(bundle.predictor(), test) == test[LABEL]).mean())
    device = torch.device("cuda" if bundle.record.device.startswith("cuda") else "cpu")
    return {"model": model, "dataset": params.dataset.name, "device": bundle.record.device,
            "precision": precision_for(params.trainer.precision, device), "epochs": bundle.record.epochs,
            "max_epochs": config.max_epochs, "train_rows": len(parts["train"]), "fit_s": round(fit_s, 2),
            "test_accuracy": round(accuracy, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--models", nargs="*", default=None, help="default: every torch model of params.yaml")
    parser.add_argument("--epochs", type=int, default=None, help="at most N epochs (default: params.yaml's)")
    parser.add_argument("--rows", type=int, default=None, help="first N rows of each split only (a quick check)")
    args = parser.parse_args()
    from cleargate.runtime import apply_offline_env, quiet_third_party

    apply_offline_env()
    quiet_third_party(False)
    results = []
    for model in args.models or deep_models(args.params):
        r = measure(model, args.params, args.epochs, args.rows)
        results.append(r)
        print(f"{r['model']} ({r['dataset']}) on {r['device']} {r['precision']}: {r['epochs']} epochs "
              f"(max {r['max_epochs']}) of {r['train_rows']} rows in {r['fit_s']:.1f} s, "
              f"test accuracy {r['test_accuracy']:.4f}", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
