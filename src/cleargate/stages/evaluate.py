"""evaluate: one trained model on the test split -> metrics (a DVC metrics file), plots, test probabilities;
the test metrics and plots also go to the model's MLflow run."""

from __future__ import annotations

from cleargate.evaluation.metrics import classification_metrics
from cleargate.evaluation.plots import write_plots
from cleargate.io import read_table
from cleargate.models.bundle import ModelBundle
from cleargate.params import DatasetParams
from cleargate.records import Evaluation, Predictions
from cleargate.schema import LABEL
from cleargate.tracking.runs import log_evaluation


def run(params: DatasetParams, model: str) -> Evaluation:
    layout = params.layout.model(model)
    test = read_table(params.layout.split("test"))
    bundle = ModelBundle.load(layout.dir)
    predictor = bundle.predictor()
    predictions = Predictions(test[LABEL].to_numpy(), predictor.predict_proba(test), predictor.classes)
    metrics = classification_metrics(predictions.y_true, predictions.proba, predictions.classes,
                                     params.dataset.positive_index, params.evaluate.calibration_bins)
    evaluation = Evaluation(model=model, dataset=params.dataset.name, role=params.model(model).role,
                            family=bundle.record.family, fit_seconds=bundle.record.fit_seconds,
                            size_bytes=bundle.record.size_bytes, **metrics)
    evaluation.save(layout.metrics)
    write_plots(layout, predictions, evaluation.confusion_matrix)
    predictions.save(layout.predictions)  # gates compare against the champion on the same rows
    log_evaluation(params, bundle.record, evaluation, layout.plots)  # on the model's training run
    return evaluation
