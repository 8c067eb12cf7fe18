"""evaluate: one trained model on the test split -> metrics JSON, plots, test-set probabilities."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cleargate.config import Params
from cleargate.datasets.schema import LABEL
from cleargate.evaluation.metrics import classification_metrics
from cleargate.evaluation.plots import confusion_rows, roc_rows, save_pngs
from cleargate.io import read_json, read_table, write_json, write_table
from cleargate.predictors import load_predictor
from cleargate.stages.entry import model_paths, stage_main, stage_paths


def run(params: Params, model: str) -> dict[str, Any]:
    paths = model_paths(params, model)
    test = read_table(stage_paths(params)["processed"] / "test.parquet")
    predictor = load_predictor(paths["dir"])
    proba = predictor.predict_proba(test)
    y_true = test[LABEL].to_numpy()
    positive = getattr(params.dataset, "positive_index", None)  # binary medical tasks name their positive class
    metrics = classification_metrics(y_true, proba, predictor.classes, positive)
    training = read_json(paths["dir"] / "train.json")
    metrics.update({"model": model, "dataset": params.dataset.name, "role": params.model(model).role,
                    "family": training["family"],
                    "fit_seconds": training["fit_seconds"], "size_bytes": training["size_bytes"]})
    write_json(metrics, paths["metrics"])

    y_pred = pd.Series(predictor.classes).to_numpy()[proba.argmax(axis=1)]
    roc = roc_rows(y_true, proba, predictor.classes)
    paths["plots"].mkdir(parents=True, exist_ok=True)
    confusion_rows(y_true, y_pred).to_csv(paths["plots"] / "confusion.csv", index=False)
    roc.to_csv(paths["plots"] / "roc.csv", index=False)
    save_pngs(paths["plots"], model, metrics["confusion_matrix"], roc, y_true, proba, predictor.classes)
    # Probabilities are kept so gates can bootstrap and compare against the champion on the same rows.
    write_table(pd.DataFrame(proba, columns=[f"p_{c}" for c in predictor.classes]).assign(label=y_true),
                paths["predictions"])
    return metrics


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, with_model=True, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
