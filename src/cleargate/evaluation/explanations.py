"""What drives one model's decisions on the test split, within the cost params.yaml allows (`evaluate.explain`):
permutation importance for every model, and for a network on images an attribution map per class. Written to
the model's explanations folder (the record and its plots), timed, so the run's cost line can say what it took.
"""

from __future__ import annotations

import math
import shutil
import time

import numpy as np
import pandas as pd

from cleargate.evaluation.attribution import METHOD, attribution_maps
from cleargate.evaluation.importance import permutation_importances
from cleargate.evaluation.metrics import metric_score
from cleargate.evaluation.plots import attribution_png, importance_png
from cleargate.models.bundle import ModelBundle, Predictor
from cleargate.params import DatasetParams
from cleargate.records import Explanation
from cleargate.schema import LABEL


def explain(params: DatasetParams, model: str, bundle: ModelBundle, predictor: Predictor,
            test: pd.DataFrame) -> Explanation:
    """The explanation of `model` (nothing measured, with the reason, when params.yaml sets no `explain`)."""
    config, primary, data = params.evaluate.explain, params.evaluate.primary_metric, params.dataset
    if config is None:
        return Explanation(model=model, metric=primary, note="not measured: params.yaml evaluate.explain is not set")
    y = test[LABEL].to_numpy()

    def score(truth: np.ndarray, proba: np.ndarray) -> float:
        return metric_score(primary, truth, proba, predictor.classes, data.positive_index)

    started = time.perf_counter()
    baseline, table, rows = permutation_importances(predictor, test, y, params.kind.importance_units(data), score,
                                                    config, params.seed)
    importance_seconds = time.perf_counter() - started
    maps, images, attribution_seconds = None, None, 0.0
    if config.attribution and bundle.manifest.flavour == "torch" and params.kind.attribution_grid(data) is not None:
        started = time.perf_counter()
        maps, images = attribution_maps(bundle.model, test, y, predictor.classes, data, config.attribution,
                                        params.seed)
        attribution_seconds = time.perf_counter() - started
    note = "" if table else f"{primary} is undefined on the test rows: no importance"
    return Explanation(model=model, metric=primary, baseline=None if math.isnan(baseline) else baseline, rows=rows,
                       repeats=config.repeats, unit=params.kind.importance_unit, importance=table,
                       importance_seconds=importance_seconds,
                       attribution=maps, attribution_method=METHOD if maps else None, attribution_images=images,
                       attribution_seconds=attribution_seconds, note=note)


def write_explanation(params: DatasetParams, explanation: Explanation) -> None:
    """The record and its plots, in a folder that holds nothing else (a DVC output)."""
    layout = params.layout.model(explanation.model)
    shutil.rmtree(layout.explanations, ignore_errors=True)
    layout.explanations.mkdir(parents=True)
    explanation.save(layout.explanation)
    if explanation.importance and params.evaluate.explain is not None:
        importance_png(layout.importance_plot, explanation.model, explanation, params.evaluate.explain.top)
    if explanation.attribution:
        attribution_png(layout.attribution_plot, explanation.model, explanation.attribution)
