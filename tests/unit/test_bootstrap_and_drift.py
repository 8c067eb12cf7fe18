import numpy as np
import pandas as pd
import pytest

from cleargate.evaluation.bootstrap import paired_difference
from cleargate.evaluation.drift import DriftCounts, psi, reference_profile


def labels(n: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    wrong = rng.random(n) > accuracy
    return y, np.where(wrong, (y + 1) % 10, y)


def test_identical_models_have_a_zero_interval():
    y, pred = labels(500, 0.95, 0)
    diff = paired_difference(y, pred, pred, "macro_f1", 300, 0.95, seed=1)
    assert diff.delta == 0 and diff.low == 0 and diff.high == 0


def test_a_clearly_worse_candidate_has_an_interval_below_zero_and_is_seeded():
    y, good = labels(800, 0.97, 0)
    _, bad = labels(800, 0.85, 0)
    diff = paired_difference(y, bad, good, "accuracy", 500, 0.95, seed=3)
    assert diff.high < 0 and diff.low < diff.delta < diff.high
    again = paired_difference(y, bad, good, "accuracy", 500, 0.95, seed=3)
    assert (again.low, again.high) == (diff.low, diff.high)


def test_psi_is_small_for_the_same_population_and_large_for_a_shifted_one():
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(0, 1, 5000), "b": rng.integers(0, 256, 5000)})
    profile = reference_profile(train, ["a", "b"], bins=10)
    same = pd.DataFrame({"a": rng.normal(0, 1, 1000), "b": rng.integers(0, 256, 1000)})
    assert max(psi(profile, same).values()) < 0.05
    shifted = same.assign(a=same["a"] + 2)
    scores = psi(profile, shifted)
    assert scores["a"] > 1.0 and scores["b"] < 0.05
    report = DriftCounts(profile).add(shifted).report(threshold=0.25, max_drifted_fraction=0.4)
    assert report.drifted == {"a": scores["a"]} and report.is_drifted
    assert "1 of 2 features have PSI > 0.25" in report.summary()


def test_a_feature_constant_in_training_still_shows_drift():
    train = pd.DataFrame({"border": np.zeros(1000), "centre": np.arange(1000) % 256})
    profile = reference_profile(train, ["border", "centre"], bins=10)
    sample = train.sample(300, random_state=0)
    assert max(psi(profile, sample).values()) < 0.05
    inverted = 255 - sample
    assert psi(profile, inverted)["border"] > 5


def test_vectorised_metrics_equal_scikit_learn_on_every_resample():
    """The bootstrap scores all resamples at once; each one equals scikit-learn's metric on that resample,
    classes missing from a resample included."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    from cleargate.evaluation.bootstrap import METRICS

    rng = np.random.default_rng(0)
    y, p = labels(60, 0.7, 1)
    classes = np.unique(np.concatenate([y, p]))
    rows = rng.integers(0, 60, size=(200, 60))
    rows[:20] = rng.integers(0, 10, size=(20, 60))  # resamples that miss most classes
    reference = {"accuracy": accuracy_score, "balanced_accuracy": balanced_accuracy_score,
                 "macro_f1": lambda a, b: f1_score(a, b, average="macro", zero_division=0)}
    for name, metric in METRICS.items():
        fast = metric(y[rows], p[rows], classes)
        slow = np.array([reference[name](y[r], p[r]) for r in rows])
        np.testing.assert_allclose(fast, slow, atol=1e-12, err_msg=name)


def frames(seed: int = 0, n: int = 2000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    train = pd.DataFrame({"a": rng.normal(0, 1, 5000), "b": rng.integers(0, 256, 5000), "c": np.zeros(5000)})
    batch = pd.DataFrame({"a": rng.normal(0.5, 2, n), "b": rng.integers(0, 300, n),
                          "c": np.where(rng.random(n) < 0.1, np.nan, rng.integers(-2, 3, n))})
    return train, batch


@pytest.mark.parametrize("rows", [1, 7, 333, 1999, 2000, 5000])
def test_drift_from_chunks_equals_drift_of_the_whole_file(rows: int):
    train, batch = frames()
    profile = reference_profile(train, ["a", "b", "c"], bins=10)
    counts = DriftCounts(profile)
    for start in range(0, len(batch), rows):
        counts.add(batch.iloc[start:start + rows])
    assert counts.psi() == psi(profile, batch)  # exactly: the same integers, the same arithmetic
    assert counts.report(0.25, 0.05) == DriftCounts(profile).add(batch).report(0.25, 0.05)


@pytest.mark.parametrize("dtype", ["uint8", "int64"])
def test_integer_pixels_take_a_faster_path_to_the_same_counts(dtype: str):
    rng = np.random.default_rng(1)
    columns = [f"pixel_{i}" for i in range(30)]
    train = pd.DataFrame(rng.integers(0, 200, (3000, 30)), columns=columns)
    train["pixel_0"] = 0  # constant in training (an MNIST border pixel)
    batch = pd.DataFrame(rng.integers(0, 256, (1000, 30)), columns=columns).astype(dtype)
    profile = reference_profile(train, columns, bins=10)
    counts = DriftCounts(profile).add(batch.iloc[:400]).add(batch.iloc[400:])
    for column in columns:  # the plain definition: each value searched in the bin edges
        edges = np.asarray(profile["features"][column]["edges"])
        expected = np.bincount(np.searchsorted(edges, batch[column].to_numpy(np.float64), side="right"),
                               minlength=len(edges) + 1)
        assert (counts.counts[column] == expected).all(), column
