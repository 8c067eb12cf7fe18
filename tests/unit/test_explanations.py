"""What drives a decision, in the evidence: permutation importance ranks the feature a model uses, shuffles a
channel or an image region as one, within the rows and repeats params.yaml allows; an image network's attribution
map per class lands on the pixels it reads; the model card, the leaderboard and the cost line show them."""

import numpy as np
import pandas as pd
import pytest

from cleargate.config.judging import AttributionConfig, ExplainConfig
from cleargate.evaluation.importance import permutation_importances
from cleargate.evaluation.metrics import metric_score
from cleargate.records import (
    Evaluation,
    Explanation,
    FeatureImportance,
    RunTimings,
    SliceFigure,
    SliceReport,
)

CONFIG = ExplainConfig(max_rows=200, repeats=4, top=5)


class Threshold:
    """A predictor that reads one column: class 1 when `column` > 0 (a sum over columns when given several)."""

    classes = [0, 1]

    def __init__(self, columns: list[str]) -> None:
        self.columns, self.calls = columns, []   # the rows of each call

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(len(frame))
        p = 1 / (1 + np.exp(-4 * frame[self.columns].to_numpy().sum(axis=1)))
        return np.c_[1 - p, p]


def score(y: np.ndarray, proba: np.ndarray) -> float:
    return metric_score("pr_auc", y, proba, [0, 1], 1)


def test_the_feature_a_model_reads_ranks_first_and_the_cost_is_bounded():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(1000, 3)), columns=["used", "unused", "other"])
    y = (frame["used"] > 0).to_numpy().astype(int)
    model = Threshold(["used"])
    baseline, table, rows = permutation_importances(model, frame, y, {c: [c] for c in frame}, score, CONFIG, 42)
    assert rows == 200 and baseline == pytest.approx(1.0), "at most max_rows rows, a stratified sample"
    assert [f.name for f in table][0] == "used" and table[0].mean > 0.3 and table[0].low <= table[0].mean
    assert all(f.mean == 0.0 for f in table[1:]), "a column the model never reads moves nothing"
    assert model.calls == [200, 3 * CONFIG.repeats * 200], "the baseline, then every shuffled copy in one call"
    again = permutation_importances(Threshold(["used"]), frame, y, {c: [c] for c in frame}, score, CONFIG, 42)
    assert again[1] == table, "seeded"


def test_a_group_of_columns_is_shuffled_together():
    """A channel of a recording (or an image region) moves as one: a model reading the sum of two columns loses
    nothing when one of them is shuffled alone within a unit it shares... and everything when its unit moves."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["ax_0", "ax_1", "wx_0"])
    y = (frame[["ax_0", "ax_1"]].sum(axis=1) > 0).to_numpy().astype(int)
    units = {"ax": ["ax_0", "ax_1"], "wx": ["wx_0"]}
    _, table, _ = permutation_importances(Threshold(["ax_0", "ax_1"]), frame, y, units, score, CONFIG, 7)
    assert [f.name for f in table] == ["ax", "wx"] and table[0].mean > 0.3 and table[1].mean == 0.0


class Fitted:
    """A fitted scikit-learn classifier behind the predictor interface (what `SklearnPredictor` does)."""

    def __init__(self, estimator, columns: list[str]) -> None:
        self.estimator, self.columns, self.classes = estimator, columns, [0, 1]
        self.dtypes: list[pd.Series] = []   # of each frame it was given

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.dtypes.append(frame.dtypes)
        return self.estimator.predict_proba(frame[self.columns])


@pytest.mark.parametrize(("batch_cells", "calls"), [(4_000_000, 2), (2_000, 22)])   # 169 x 8 cells a copy
def test_the_importances_are_scikit_learns_to_the_last_bit_in_any_batch_size(monkeypatch, batch_cells: int,
                                                                               calls: int):
    """The same shuffles and the same numbers as `sklearn.inspection.permutation_importance` (same seed), on the
    breast-cancer records with a categorical column (its dtype kept in the stacked copies), whether the shuffled
    copies are predicted in one call (the baseline, then 7 features x 3 repeats) or one call each."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance

    from cleargate.evaluation import importance

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.iloc[:, :6].copy()
    frame["size_band"] = pd.cut(data.frame["worst area"], 3, labels=["small", "mid", "large"])
    frame["label"] = data.target
    train, test = frame.iloc[:400], frame.iloc[400:].reset_index(drop=True)
    features = [c for c in frame.columns if c != "label"]
    model = HistGradientBoostingClassifier(max_iter=15, categorical_features="from_dtype", random_state=0)
    model.fit(train[features], train["label"])
    y = test["label"].to_numpy()
    config = ExplainConfig(max_rows=1000, repeats=3, top=5)
    monkeypatch.setattr(importance, "BATCH_CELLS", batch_cells)

    predictor = Fitted(model, features)
    baseline, table, rows = permutation_importances(predictor, test, y, {c: [c] for c in features}, score, config, 11)
    expected = permutation_importance(model, test[features], y, n_repeats=3, random_state=11,
                                      scoring=lambda est, x, t: score(t, est.predict_proba(x)))
    assert rows == len(test) and baseline == score(y, model.predict_proba(test[features]))
    ours = {f.name: f for f in table}
    for i, column in enumerate(features):
        drops = expected.importances[i]
        assert (ours[column].mean, ours[column].std, ours[column].low, ours[column].high) == (
            drops.mean(), drops.std(), drops.min(), drops.max()), column
    assert any(f.mean > 0 for f in table), "the model reads some of these features"
    assert len(predictor.dtypes) == calls and all(d.equals(test.dtypes) for d in predictor.dtypes), "dtypes kept"


def test_an_undefined_metric_gives_no_importance_rather_than_a_number():
    frame = pd.DataFrame({"a": np.linspace(-1, 1, 50)})
    baseline, table, _ = permutation_importances(Threshold(["a"]), frame, np.zeros(50, dtype=int), {"a": ["a"]},
                                                 score, CONFIG, 0)
    assert np.isnan(baseline) and table == []


def test_an_image_network_attribution_map_lands_on_the_pixels_it_reads():
    torch = pytest.importorskip("torch")
    from cleargate.evaluation.attribution import attribution_maps
    from cleargate.kinds.image import ImageData, importance_units, records_from_arrays

    data = ImageData(name="tiny", kind="image", source="npz", source_path="x.npz", image_shape=[4, 4],
                     classes=[0, 1], min_class_count=1)
    weights = torch.zeros(2, 16)
    weights[1, [0, 4, 8, 12]] = 1.0   # class 1 reads the left column of pixels only
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2, bias=False))
    network[1].weight.data = weights
    images = np.full((6, 4, 4), 200, dtype=np.uint8)
    frame = records_from_arrays(images, np.array([0, 0, 0, 1, 1, 1]))
    maps, most = attribution_maps(network, frame, frame["label"].to_numpy(), [0, 1], data,
                                  AttributionConfig(images_per_class=2, steps=8), seed=0)
    assert most == 2 and set(maps) == {"0", "1"}
    grid = np.asarray(maps["1"])
    assert grid.shape == (4, 4) and (grid[:, 0] > 0.5).all() and np.allclose(grid[:, 1:], 0)
    regions = importance_units(data)
    assert len(regions) == 16 and regions["rows 0-0, cols 0-0"] == ["pixel_0"], "a 4x4 grid of regions"


def test_the_card_lists_small_slices_first_then_the_judged_worst_first_and_the_top_features():
    from cleargate.release.modelcard import explanation_lines, slice_lines, text_map

    report = SliceReport(metric="pr_auc", min_rows=30, n_resamples=200, confidence=0.95, figures=[
        SliceFigure(slicing="age", value="18-45", rows=300, metric=0.9, low=0.8, high=0.95, recall={"1": 0.8},
                    judged=True),
        SliceFigure(slicing="age", value="65-120", rows=100, metric=0.6, low=0.4, high=0.7, recall={"0": 0.9},
                    judged=True),
        SliceFigure(slicing="age", value="0-2", rows=12, metric=0.2, recall={}, judged=False,
                    note="12 rows < min_rows 30")])
    lines = slice_lines(report, ["negative", "positive"])
    rows = [line.split(" | ")[0].strip("| ") for line in lines if line.startswith("| ") and "---" not in line
            and not line.startswith("| slice")]
    assert rows == ["0-2", "65-120", "18-45"], "too small to judge first, then the judged ones worst first"
    assert "| 65-120 | 100 | 0.6000 | [0.4000, 0.7000] | negative: 0.90 | yes |" in lines
    assert "| 0-2 | 12 | 0.2000 | - | - | no: 12 rows < min_rows 30 |" in lines
    assert "never gated" in lines[0]
    explanation = Explanation(model="m", metric="pr_auc", baseline=0.9, rows=100, repeats=5, unit="feature",
                              importance=[FeatureImportance(name=n, mean=m, std=0.01, low=m - 0.01, high=m + 0.01)
                                          for n, m in (("worst_area", 0.1), ("mean_radius", 0.05), ("x", 0.0))],
                              attribution={"0": [[0.0, 1.0], [0.0, 0.5]]})
    card = explanation_lines(explanation, top=2)
    assert "| worst_area | +0.1000 | 0.0100 | [+0.0900, +0.1100] |" in card and not any("| x |" in c for c in card)
    assert "top 2 of 3" in card[0]
    assert text_map([[0.0, 1.0], [0.0, 0.5]]) == [" @", " +"], "darker where the class's evidence is"
    assert explanation_lines(Explanation(model="m", metric="pr_auc", note="not measured: x"), 2) == [
        "- not measured: x"]


def test_the_leaderboard_sets_the_worst_slice_beside_the_overall_figure_and_mlflow_gets_each_slice():
    from cleargate.evaluation.leaderboard import leaderboard, leaderboard_metrics

    slices = SliceReport(metric="macro_f1", min_rows=30, n_resamples=200, confidence=0.95, figures=[
        SliceFigure(slicing="patient", value="3", rows=80, metric=0.7, judged=True),
        SliceFigure(slicing="patient", value="9", rows=90, metric=0.9, judged=True),
        SliceFigure(slicing="patient", value="12 b", rows=5, metric=0.1, judged=False)])
    evaluation = Evaluation(model="lstm", dataset="rehab", role="candidate", family="lstm", fit_seconds=1.0,
                            size_bytes=10, accuracy=0.8, balanced_accuracy=0.8, macro_f1=0.8, roc_auc=0.9,
                            pr_auc=0.9, log_loss=0.3, ece=0.05, min_class_recall=0.7, per_class_recall={"0": 0.7},
                            confusion_matrix=[[1]], n_test=175, slices=slices, explain_seconds=1.5)
    board = leaderboard({"lstm": evaluation}, "macro_f1", {"lstm": True})
    assert list(board.columns[:7]) == ["rank", "model", "family", "role", "macro_f1", "worst_slice",
                                       "worst_slice_name"]
    assert board.loc[0, "worst_slice"] == 0.7 and board.loc[0, "worst_slice_name"] == "patient=3"
    assert "worst_slice_name" not in leaderboard_metrics(board, "macro_f1")["lstm"]
    scalars = evaluation.scalars()
    assert scalars["macro_f1__patient_3"] == 0.7 and scalars["macro_f1__patient_12_b"] == 0.1
    assert scalars["worst_slice_macro_f1"] == 0.7, "logged as test_worst_slice_macro_f1"
    assert Evaluation.model_validate(evaluation.dump()) == evaluation, "the metrics file reads back"


def test_the_cost_line_says_what_the_explanations_took():
    from cleargate.release.summary import timings_line

    line = timings_line(RunTimings(wall_seconds=200.0, fit_seconds=120.0, skipped=3, explain_seconds=8.0,
                                   stage_seconds={"train@a": 120.0, "evaluate@a": 20.0}))
    assert line.endswith("; explanations 8 s (4% of the run); 3 up to date; fits on process pool")


def test_a_card_longer_than_the_registry_takes_is_cut_at_a_line_and_points_at_the_whole_card():
    from cleargate.release.modelcard import DESCRIPTION_LIMIT, registry_text

    short = "# card\n| a | b |\n"
    assert registry_text(short) == short
    long = "# card\n" + "".join(f"| site {i} | 0.5000 |\n" for i in range(600))
    cut = registry_text(long)
    assert len(cut) <= DESCRIPTION_LIMIT and cut.endswith("the whole card is the run's artifact model_card.md)\n")
    assert long.startswith(cut.split("\n\n... (cut to")[0] + "\n"), "cut at the end of a line"
