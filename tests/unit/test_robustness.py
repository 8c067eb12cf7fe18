"""Test-time perturbations of each kind (seeded, same shape, identity at strength 0), the tabular pipeline
coping with the missing values it gets, the perturbed scores, and the robustness-drop gate."""

import numpy as np
import pandas as pd
import pytest

from cleargate.config.judging import ChampionGate, GateThresholds
from cleargate.evaluation.gates import evaluate_gates, robustness_drop
from cleargate.evaluation.robustness import perturbation_rng, perturbed_scores
from cleargate.kinds import image, image_perturbations, sequence, tabular
from cleargate.kinds.image import ImageData
from cleargate.kinds.sequence import SequenceData
from cleargate.kinds.tabular import TabularData
from cleargate.kinds.windows import window_columns
from cleargate.schema import LABEL

GREY = ImageData(name="d", kind="image", source="sklearn_digits", image_shape=(6, 5), classes=[0, 1],
                 min_class_count=1, pixel_max=16)
COLOUR = ImageData(name="c", kind="image", source="parquet", source_path="x.parquet", image_shape=(3, 4, 4),
                   classes=[0, 1], min_class_count=1)
SEQ = SequenceData(name="s", kind="sequence", source="parquet", source_path="x.parquet", classes=["a", "b"],
                   channels=["ax", "ay"], sample_rate_hz=10, resample_hz=10, window=12, stride=12,
                   value_abs_max=50, min_class_count=1)
TAB = TabularData(name="t", kind="tabular", source="parquet", source_path="x.parquet", target="y",
                  classes=["no", "yes"], min_class_count=1,
                  features={"age": {"type": "numeric"}, "dose": {"type": "numeric"},
                            "site": {"type": "categorical"}})


def images(data: ImageData, n: int = 7) -> pd.DataFrame:
    pixels = np.random.default_rng(0).integers(0, int(data.pixel_max) + 1, size=(n, data.n_pixels), dtype=np.uint8)
    return pd.DataFrame(pixels, columns=image.feature_columns(data)).assign(**{LABEL: np.arange(n) % 2})


def windows(n: int = 9) -> pd.DataFrame:
    t = np.linspace(0, 2 * np.pi, SEQ.window)
    cube = np.stack([np.stack([np.sin(t + i), np.cos(2 * t + i)]) for i in range(n)])   # smooth signals
    frame = pd.DataFrame(cube.reshape(n, -1).astype(np.float32), columns=window_columns(SEQ))
    return frame.assign(**{LABEL: np.arange(n) % 2})


def table(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    age = rng.uniform(20, 80, n)
    return pd.DataFrame({"age": age, "dose": rng.uniform(0, 5, n),
                         "site": rng.choice(["a", "b", "c"], n).astype(object), LABEL: (age > 50).astype(int)})


CASES = [(image, GREY, images(GREY), "shift", 2), (image, GREY, images(GREY), "noise", 0.2),
         (image, COLOUR, images(COLOUR), "shift", 1), (image, COLOUR, images(COLOUR), "noise", 0.1),
         (sequence, SEQ, windows(), "noise", 0.3), (sequence, SEQ, windows(), "time_warp", 0.3),
         (tabular, TAB, table(), "missing", 0.2)]


@pytest.mark.parametrize(("kind", "data", "frame", "name", "strength"), CASES,
                         ids=[f"{c[1].name}-{c[3]}" for c in CASES])
def test_a_perturbation_is_seeded_keeps_the_layout_and_is_the_identity_at_zero(kind, data, frame, name, strength):
    perturb = kind.perturbations(data)[name]
    first = perturb(frame, strength, perturbation_rng(42, name))
    again = perturb(frame, strength, perturbation_rng(42, name))
    other = perturb(frame, strength, perturbation_rng(43, name))
    pd.testing.assert_frame_equal(first, again)                         # same seed, same copy
    assert not first.equals(other), "another seed gives another copy"
    assert not first.equals(frame), "a non-zero strength changes the records"
    assert list(first.columns) == list(frame.columns) and first.index.equals(frame.index)
    assert list(first.dtypes) == list(frame.dtypes), "stored dtypes kept (pixels stay integers)"
    assert first[LABEL].equals(frame[LABEL]), "labels are never perturbed"
    pd.testing.assert_frame_equal(perturb(frame, 0.0, perturbation_rng(42, name)), frame)
    before = frame.copy()
    perturb(frame, strength, perturbation_rng(1, name))
    pd.testing.assert_frame_equal(frame, before)                        # the input is not modified


def test_image_perturbations_stay_in_range_and_a_shift_moves_content():
    shifted = image_perturbations.shift(images(GREY), image.feature_columns(GREY), GREY, 2, np.random.default_rng(0))
    noisy = image_perturbations.noise(images(GREY), image.feature_columns(GREY), GREY, 0.5, np.random.default_rng(0))
    for frame in (shifted, noisy):
        pixels = frame[image.feature_columns(GREY)].to_numpy()
        assert pixels.min() >= GREY.pixel_min and pixels.max() <= GREY.pixel_max
    dot = pd.DataFrame(np.zeros((1, GREY.n_pixels), dtype=np.uint8), columns=image.feature_columns(GREY))
    dot.iloc[0, 2 * 5 + 2] = 9                                        # one bright pixel at row 2, column 2
    places, columns = set(), image.feature_columns(GREY)
    for seed in range(20):   # a dot 2 pixels from every edge stays in view, moved by at most 2 along each axis
        moved = image_perturbations.shift(dot, columns, GREY, 2, np.random.default_rng(seed)).to_numpy().reshape(6, 5)
        assert moved.sum() == 9 and (moved == 9).sum() == 1
        (row, col), = np.argwhere(moved == 9)
        assert abs(row - 2) <= 2 and abs(col - 2) <= 2
        places.add((row, col))
    assert len(places) > 5, "each image gets its own shift"


def test_sensor_noise_scales_with_the_channel_and_time_warp_keeps_the_ends():
    frame = windows(50)
    noisy = sequence.sensor_noise(frame, SEQ, 0.5, np.random.default_rng(0))
    columns = window_columns(SEQ)
    added = (noisy[columns].to_numpy() - frame[columns].to_numpy()).reshape(50, 2, SEQ.window)
    spread = frame[columns].to_numpy().reshape(50, 2, SEQ.window).std(axis=(0, 2))
    assert np.allclose(added.std(axis=(0, 2)), 0.5 * spread, rtol=0.15)
    warped = sequence.time_warp(frame, SEQ, 0.5, np.random.default_rng(0))[columns].to_numpy().reshape(50, 2, -1)
    original = frame[columns].to_numpy().reshape(50, 2, -1)
    assert np.allclose(warped[:, :, [0, -1]], original[:, :, [0, -1]], atol=1e-5), "first and last sample kept"
    assert warped.min() >= original.min() - 1e-5 and warped.max() <= original.max() + 1e-5, "interpolated only"


def test_missing_values_hit_the_stated_share_and_the_tree_pipeline_imputes_them():
    from cleargate.config.hyperparameters import RFConfig
    from cleargate.models.trees import tree_pipeline

    frame = table(2000)
    gone = tabular.missing_values(frame, TAB, 0.3, np.random.default_rng(0))
    share = gone[tabular.feature_columns(TAB)].isna().to_numpy().mean()
    assert 0.27 < share < 0.33 and not gone[LABEL].isna().any()
    config = RFConfig(dataset="t", family="random_forest", role="candidate", n_estimators=5, max_features="sqrt",
                      min_samples_leaf=1, n_jobs=1)
    model = tree_pipeline(config, TAB, 0).fit(frame[tabular.feature_columns(TAB)], frame[LABEL])
    proba = model.predict_proba(gone[tabular.feature_columns(TAB)])   # no error on NaN, numeric or categorical
    assert proba.shape == (2000, 2) and np.isfinite(proba).all()


def test_perturbed_scores_score_each_perturbed_copy_once():
    frame, seen = table(), []

    def predict(f):
        seen.append(f["age"].isna().mean())
        return np.column_stack([f["age"].isna(), ~f["age"].isna()]).astype(float)

    scores = perturbed_scores(frame, predict, lambda p: float(p[:, 0].mean()), tabular.perturbations(TAB),
                              {"missing": 0.25}, seed=7)
    assert list(scores) == ["missing"] and len(seen) == 1 and scores["missing"] == pytest.approx(seen[0])
    again = perturbed_scores(frame, predict, lambda p: float(p[:, 0].mean()), tabular.perturbations(TAB),
                             {"missing": 0.25}, seed=7)
    assert again == scores


GATES = GateThresholds(must_beat_baselines=False, max_latency_p95_ms_single=50, max_latency_p95_ms_batch=500,
                       max_model_size_mb=50, latency_batch_size=256, latency_repeats=30,
                       champion=ChampionGate(metric="macro_f1", margin=0.01, n_resamples=1000, confidence=0.95))


def test_robustness_drop_gate_passes_blocks_and_fails_closed_on_missing_figures():
    passing = robustness_drop(0.95, {"shift": 0.93, "noise": 0.94}, "macro_f1", 0.05)
    assert passing.passed and passing.value == pytest.approx(0.02) and "worst: shift" in passing.detail
    blocked = robustness_drop(0.95, {"shift": 0.80, "noise": 0.94}, "macro_f1", 0.05)
    assert not blocked.passed and blocked.value == pytest.approx(0.15)
    for perturbed in (None, {}, {"shift": None}):
        missing = robustness_drop(0.95, perturbed, "macro_f1", 0.05)
        assert not missing.passed and missing.value is None
    assert "evaluate.robustness" in robustness_drop(0.95, None, "macro_f1", 0.05).detail
    metrics = {"macro_f1": 0.95, "ece": 0.0, "per_class_recall": {"0": 1.0}, "robustness": {"noise": 0.7}}
    off = evaluate_gates("m", metrics, {}, GATES, "macro_f1")
    assert "robustness_drop" not in [c.name for c in off.checks], "off unless params.yaml sets it"
    on = evaluate_gates("m", metrics, {}, GATES.model_copy(update={"max_robustness_drop": 0.1}), "macro_f1")
    assert [c.name for c in on.failed] == ["robustness_drop"]


def test_params_reject_a_perturbation_the_kind_does_not_know(tmp_path):
    from cleargate.errors import ConfigError
    from cleargate.params import load_project
    from tests.projects import tiny_params, write_params

    params = tiny_params()
    params["datasets"]["digits"]["evaluate"]["robustness"] = {"time_warp": 0.1}
    with pytest.raises(ConfigError, match=r"evaluate.robustness: unknown perturbation\(s\) \['time_warp'\] for "
                                          r"image data \(known: shift, noise\)"):
        load_project(write_params(tmp_path / "params.yaml", params))
