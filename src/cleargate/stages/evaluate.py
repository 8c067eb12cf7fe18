"""evaluate: one trained model on the test split -> metrics (a DVC metrics file), plots, test probabilities, and
what drives its decisions; the test metrics, plots and explanations also go to the model's MLflow run. The metrics
include the primary metric on each perturbed copy of the test split that params.yaml `evaluate.robustness` names
(one pass per perturbation) and on each slice of `evaluate.slices`; `evaluate.explain` bounds the cost of the
permutation importance (every model) and the attribution maps (networks on images)."""

from __future__ import annotations

from cleargate.evaluation.explanations import explain, write_explanation
from cleargate.evaluation.plots import write_plots
from cleargate.evaluation.slices import slice_report
from cleargate.evaluation.test_set import score_test_set
from cleargate.io import read_table
from cleargate.models.bundle import ModelBundle
from cleargate.params import DatasetParams
from cleargate.records import Evaluation
from cleargate.tracking.model_runs import log_evaluation


def run(params: DatasetParams, model: str) -> Evaluation:
    layout = params.layout.model(model)
    test_path = params.layout.split("test")
    test = read_table(test_path)
    bundle = ModelBundle.load(layout.dir)
    predictor = bundle.predictor()
    predictions, metrics, robustness = score_test_set(params, predictor, test)
    config = params.evaluate.slices
    slices = None if config is None else slice_report(
        test, predictions, params.dataset.positive_index, params.evaluate.primary_metric, config, params.seed,
        str(test_path))
    explanation = explain(params, model, bundle, predictor, test)
    evaluation = Evaluation(model=model, dataset=params.dataset.name, role=params.model(model).role,
                            family=bundle.record.family, fit_seconds=bundle.record.fit_seconds,
                            size_bytes=bundle.record.size_bytes, robustness=robustness, slices=slices,
                            explain_seconds=explanation.seconds if params.evaluate.explain else None, **metrics)
    evaluation.save(layout.metrics)
    write_plots(layout, predictions, evaluation.confusion_matrix)
    write_explanation(params, explanation)
    predictions.save(layout.predictions)  # gates compare against the champion on the same rows
    log_evaluation(params, bundle.record, evaluation, layout.plots, test, layout.explanations)  # the model's run
    return evaluation
