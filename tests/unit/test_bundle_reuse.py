"""A pipeline worker evaluates each tree model right after fitting it (flows/schedule.py); loading the bundle it
has just saved gives back the estimator it holds (`cleargate.models.bundle._LAST_SAVED`) instead of rebuilding
it from skops. That must change nothing: the estimator read from the file predicts exactly the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cleargate.models.bundle import ModelBundle, load_skops
from cleargate.params import load_project
from cleargate.schema import LABEL
from cleargate.training.fit import fit_tree

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def breast_cancer():
    params = load_project(ROOT / "params.yaml").scope("breast_cancer")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(240, len(params.features))), columns=params.features)
    frame[LABEL] = (frame[params.features[0]] + rng.normal(scale=0.5, size=len(frame)) > 0).astype(int)
    return params, frame


@pytest.mark.parametrize("model", ["breast_cancer_hgb", "breast_cancer_rf", "breast_cancer_et"])
def test_the_bundle_saved_last_loads_as_the_estimator_held_and_predicts_what_its_file_does(tmp_path, breast_cancer,
                                                                                          model):
    params, frame = breast_cancer
    bundle = fit_tree(model, params.model(model), params.dataset, frame, params.seed)
    folder = bundle.save(tmp_path / model)
    loaded = ModelBundle.load(folder)
    assert loaded.model is bundle.model  # not read back
    from_file = load_skops(folder / "model.skops")
    assert from_file is not bundle.model
    held, read = loaded.predictor().predict_proba(frame), ModelBundle(loaded.manifest, from_file, loaded.record) \
        .predictor().predict_proba(frame)
    assert np.array_equal(held, read)  # bit for bit: the metrics cannot differ


def test_only_the_last_saved_file_and_only_unchanged_is_taken_from_memory(tmp_path, breast_cancer):
    params, frame = breast_cancer
    first = fit_tree("breast_cancer_rf", params.model("breast_cancer_rf"), params.dataset, frame, params.seed)
    second = fit_tree("breast_cancer_et", params.model("breast_cancer_et"), params.dataset, frame, params.seed)
    second.save(tmp_path / "copy")
    first.save(tmp_path / "first")
    second.save(tmp_path / "second")
    assert ModelBundle.load(tmp_path / "first").model is not first.model  # saved before the last: read from disk
    assert ModelBundle.load(tmp_path / "second").model is second.model
    first.save(tmp_path / "second")  # the folder rewritten since: its new file, not the estimator held before
    assert ModelBundle.load(tmp_path / "second").model is first.model
    (tmp_path / "second" / "model.skops").write_bytes((tmp_path / "copy" / "model.skops").read_bytes())
    changed = ModelBundle.load(tmp_path / "second").model  # the file changed in place by someone else: read again
    assert changed is not first.model and type(changed.steps[-1][1]) is type(second.model.steps[-1][1])
