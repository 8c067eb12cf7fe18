"""The evaluation's probabilities of a forest are the same in every run (`SklearnPredictor`): with `n_jobs: 2`,
scikit-learn adds the trees' probabilities on threads in whichever order they finish, and two evaluations of
the covid extra trees differed by up to 4.4e-16, so the predictions' hashes changed from run to run."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from sklearn.ensemble import ExtraTreesClassifier

from cleargate.models.bundle import SklearnPredictor
from cleargate.params import load_project
from tests.projects import ROOT


def test_a_forest_on_threads_predicts_bit_for_bit_what_it_predicts_on_one():
    data = load_project(ROOT / "params.yaml").scope("breast_cancer").dataset
    columns = [f"f{i}" for i in range(8)]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(4000, len(columns))), columns=columns)
    labels = (frame["f0"] + rng.normal(scale=1.0, size=len(frame)) > 0).astype(int)
    forest = ExtraTreesClassifier(n_estimators=300, min_samples_leaf=3, n_jobs=2, random_state=0).fit(frame, labels)
    one_thread = copy.deepcopy(forest).set_params(n_jobs=1).predict_proba(frame)

    predictor = SklearnPredictor(forest, data)
    predictor.columns = columns
    runs = [predictor.predict_proba(frame) for _ in range(5)]
    assert all(np.array_equal(run, one_thread) for run in runs), max(np.abs(r - one_thread).max() for r in runs)
    assert forest.n_jobs == 2, "the estimator is left as it was"
