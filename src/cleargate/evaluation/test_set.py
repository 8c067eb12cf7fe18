"""One model's figures on the test split: its metrics and the primary metric under each perturbation.

The evaluate stage (the registered model) and the seed-stability measurement (a model refitted with another
seed) both call `score_test_set`, so a seed's figures are the evaluation's figures, computed the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cleargate.evaluation.metrics import classification_metrics
from cleargate.evaluation.robustness import perturbed_scores
from cleargate.models.bundle import Predictor
from cleargate.params import DatasetParams
from cleargate.records import Predictions
from cleargate.schema import LABEL


def score_test_set(params: DatasetParams, predictor: Predictor, test: pd.DataFrame
                   ) -> tuple[Predictions, dict[str, Any], dict[str, float] | None]:
    """Test probabilities, the metrics of `classification_metrics`, and the perturbed primary metric (None
    when params.yaml `evaluate.robustness` names no perturbation)."""
    evaluate = params.evaluate
    predictions = Predictions(test[LABEL].to_numpy(), predictor.predict_proba(test), predictor.classes)

    def metrics(proba: np.ndarray) -> dict[str, Any]:
        return classification_metrics(predictions.y_true, proba, predictions.classes, params.dataset.positive_index,
                                      evaluate.calibration_bins)

    robustness = perturbed_scores(test, predictor.predict_proba, lambda p: metrics(p)[evaluate.primary_metric],
                                  params.kind.perturbations(params.dataset), evaluate.robustness,
                                  params.seed) if evaluate.robustness else None
    return predictions, metrics(predictions.proba), robustness
