"""Identical refits give the same weights digest, for every model family: a `cleargate reproduce` of a version can
then say `identical`, not only `metrics equal`. Each model is fitted twice with the same seed on the same tiny data
(in this process, as the rebuild's stage command does in its own), saved, and digested."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cleargate.config.trainer import TrainerConfig
from cleargate.kinds.image import records_from_arrays
from cleargate.kinds.windows import window_columns
from cleargate.schema import LABEL
from cleargate.tracking.lineage import model_digest
from cleargate.training.fit import fit_model
from tests.unit.test_models import WINDOWS, deep_config, images

TRAINER = TrainerConfig(accelerator="cpu", devices=1, strategy="auto", num_nodes=1, precision="32-true",
                        deterministic=True)


def image_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    frame = records_from_arrays(rng.integers(0, 17, (96, 8, 8)), np.arange(96) % 10)
    return frame.iloc[:64].reset_index(drop=True), frame.iloc[64:].reset_index(drop=True)


def window_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(96, len(window_columns(WINDOWS)))), columns=window_columns(WINDOWS))
    frame[LABEL] = np.arange(96) % 2
    return frame.iloc[:64].reset_index(drop=True), frame.iloc[64:].reset_index(drop=True)


def digests(name: str, config, data, frames, tmp_path: Path) -> list[str]:
    train, val = frames
    found = []
    for attempt in range(2):
        bundle = fit_model(name, config, TRAINER, data, train, val, seed=42)
        bundle.save(tmp_path / f"{name}-{attempt}")
        found.append(model_digest(tmp_path / f"{name}-{attempt}"))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("family", ["cnn", "resnet", "vit", "rnn", "lstm", "gru", "transformer"])
def test_a_deep_model_refitted_with_its_seed_has_the_same_digest(family: str, tmp_path: Path):
    image = family in ("cnn", "resnet", "vit")
    data, frames = (images([8, 8]), image_frames()) if image else (WINDOWS, window_frames())
    config = deep_config(family)  # one epoch: the weights after it are what a refit must reproduce
    first, second = digests(family, config, data, frames, tmp_path)
    assert first == second, f"{family}: two fits with one seed saved different weights"


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "random_forest", "extra_trees"])
def test_a_tree_model_refitted_with_its_seed_has_the_same_digest(family: str, tmp_path: Path):
    from cleargate.config.hyperparameters import HGBConfig, RFConfig

    config = (HGBConfig(dataset="d", family=family, role="candidate", max_iter=5, max_leaf_nodes=8,
                        learning_rate=0.1) if family == "hist_gradient_boosting" else
              RFConfig(dataset="d", family=family, role="candidate", n_estimators=5, n_jobs=2, max_features="sqrt",
                       min_samples_leaf=1))
    first, second = digests(family, config, images([8, 8]), image_frames(), tmp_path)
    assert first == second, f"{family}: two fits with one seed saved different weights"


def test_dirty_means_code_a_changed_params_yaml_or_dvc_lock_is_not(tmp_path: Path):
    from cleargate.tracking.lineage import git_commit
    from tests.projects import commit, run

    for name in ("params.yaml", "dvc.lock", "train.py"):
        (tmp_path / name).write_text("a: 1\n")
    run(["git", "init", "-q"], tmp_path)
    commit(tmp_path, "init")
    head = run(["git", "rev-parse", "HEAD"], tmp_path).stdout.strip()
    (tmp_path / "params.yaml").write_text("a: 2\n")  # what `dvc exp run -S a=2` does
    (tmp_path / "dvc.lock").write_text("a: 3\n")     # what every run does
    assert git_commit(tmp_path) == head
    (tmp_path / "train.py").write_text("a: 4\n")
    assert git_commit(tmp_path) == f"{head}-dirty"
