"""The run's cost line: what it says, and that it fits the terminal however long the run and its stage names."""
from cleargate.records import RunTimings
from cleargate.release.summary import timings_line


def test_the_cost_line_names_the_costliest_stages_summed_over_datasets():
    timings = RunTimings(wall_seconds=296.0, fit_seconds=210.0, skipped=0, stage_seconds={
        "train@digits/cnn": 100.0, "train@mnist/cnn": 130.0, "evaluate@digits/cnn": 21.0,
        "validate@digits": 8.0, "validate@mnist": 12.0, "split@digits": 1.0})
    line = timings_line(timings)
    assert line.startswith("pipeline 296 s: fitting 210 s, overhead 0.41 (summed: train 230 s, evaluate 21 s, ")
    assert "validate 20 s)" in line and "split" not in line, "the three costliest stages, each summed"
    assert line.endswith("; fits on process pool"), "which runner ran the fits"


def test_the_cost_line_fits_120_columns_at_its_longest():
    stages = {f"{name}@some-dataset/{i}": 1234.0 for i in range(9) for name in ("validate", "evaluate", "train")}
    timings = RunTimings(wall_seconds=99999.0, fit_seconds=88888.0, skipped=444, stage_seconds=stages)
    line = timings_line(timings)
    assert "; 444 up to date" in line
    assert len(line) <= 120, line


def test_a_run_that_fitted_nothing_says_so():
    line = timings_line(RunTimings(wall_seconds=9.0, fit_seconds=0.0, skipped=56, stage_seconds={}))
    assert line == "pipeline 9 s: fitting 0 s, overhead n/a (nothing was fitted); 56 up to date", "no runner named"
