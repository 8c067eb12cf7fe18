"""The verdict of a rebuild against its registered version, and the weights digest it rests on."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from cleargate.reproduce.rebuild import Rebuilt
from cleargate.reproduce.registered import Registered
from cleargate.reproduce.verdict import compare
from cleargate.tracking.lineage import model_digest

METRICS = {"accuracy": 0.9, "macro_f1": 0.85, "roc_auc": math.nan, "recall_class_1": 0.8}


def registered(metrics: dict[str, float], digest: str = "w1") -> Registered:
    return Registered("m", "3", "hgb", "c0ffee", "run", {"lineage.model_sha256": digest}, metrics, b"", b"")


def rebuilt(metrics: dict[str, float], digest: str = "w1") -> Rebuilt:
    return Rebuilt({**metrics, "fit_seconds": 9.0, "size_bytes": 123.0}, digest, "split", 1.0)


def test_equal_metrics_and_weights_are_identical_nan_included_fit_time_and_size_ignored():
    verdict = compare(registered(METRICS), rebuilt(METRICS))
    assert (verdict.line, verdict.metrics_match, verdict.compared) == ("identical", True, 4)
    other = compare(registered(METRICS, "w1"), rebuilt(METRICS, "w2"))
    assert (other.line, other.metrics_match, other.weights_match) == ("metrics equal, weights differ", True, False)


def test_any_difference_is_named_with_its_size_and_a_missing_metric_counts():
    changed = {**METRICS, "macro_f1": 0.84, "accuracy": 0.9 + 1e-12}   # exact: the last bit counts
    verdict = compare(registered(METRICS), rebuilt(changed))
    assert not verdict.metrics_match
    assert verdict.line == "differs: accuracy 0.9 -> 0.9 (+1e-12); macro_f1 0.85 -> 0.84 (-0.01)"
    partial = {k: v for k, v in METRICS.items() if k != "recall_class_1"}
    assert compare(registered(partial), rebuilt(METRICS)).line == "differs: recall_class_1 not on the registered run"


@pytest.mark.slow  # two interpreters importing scikit-learn
def test_the_weights_digest_of_a_refitted_tree_is_stable_across_processes(tmp_path: Path):
    """skops names arrays by memory address and stamps the zip: the digest reads past both."""
    script = ("import sys, skops.io as sio; from sklearn.datasets import load_digits;"
              "from sklearn.ensemble import RandomForestClassifier as RF; X, y = load_digits(return_X_y=True);"
              "sio.dump(RF(3, random_state=0).fit(X, y), sys.argv[1])")
    digests = []
    for n in range(2):
        folder = tmp_path / str(n)
        folder.mkdir()
        subprocess.run([sys.executable, "-c", script, str(folder / "model.skops")], check=True)
        digests.append(model_digest(folder))
    assert (tmp_path / "0" / "model.skops").read_bytes() != (tmp_path / "1" / "model.skops").read_bytes()
    assert digests[0] == digests[1]
