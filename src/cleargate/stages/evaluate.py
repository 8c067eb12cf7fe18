"""evaluate: one trained model on the test split -> metrics (a DVC metrics file), plots, test probabilities;
the test metrics and plots also go to the model's MLflow run. The metrics include the primary metric on each
perturbed copy of the test split that params.yaml `evaluate.robustness` names (one pass per perturbation)."""

from __future__ import annotations

from cleargate.evaluation.plots import write_plots
from cleargate.evaluation.test_set import score_test_set
from cleargate.io import read_table
from cleargate.models.bundle import ModelBundle
from cleargate.params import DatasetParams
from cleargate.records import Evaluation
from cleargate.tracking.model_runs import log_evaluation


def run(params: DatasetParams, model: str) -> Evaluation:
    layout = params.layout.model(model)
    test = read_table(params.layout.split("test"))
    bundle = ModelBundle.load(layout.dir)
    predictions, metrics, robustness = score_test_set(params, bundle.predictor(), test)
    evaluation = Evaluation(model=model, dataset=params.dataset.name, role=params.model(model).role,
                            family=bundle.record.family, fit_seconds=bundle.record.fit_seconds,
                            size_bytes=bundle.record.size_bytes, robustness=robustness, **metrics)
    evaluation.save(layout.metrics)
    write_plots(layout, predictions, evaluation.confusion_matrix)
    predictions.save(layout.predictions)  # gates compare against the champion on the same rows
    log_evaluation(params, bundle.record, evaluation, layout.plots, test)  # on the model's training run
    return evaluation
