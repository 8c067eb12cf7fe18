"""Sequence data: the raw watch recordings, resampling, windowing, window statistics and the recurrent net."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import torch
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline

from cleargate.datasets.watch import load_seglearn_watch
from cleargate.errors import DataError
from cleargate.kinds.sequence import SequenceData
from cleargate.kinds.sequence import to_tensor as windows_to_tensor
from cleargate.kinds.window_stats import WindowStats
from cleargate.kinds.windows import resample, window_columns, windows_from_recordings
from cleargate.models.recurrent import RecurrentNet

WATCH_CLASSES = ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"]
WATCH_CHANNELS = ["ax", "ay", "az", "wx", "wy", "wz"]


def seq_config(**overrides: object) -> SequenceData:
    fields: dict = dict(name="t", kind="sequence", source="parquet", source_path="x.parquet", classes=["a", "b"],
                        channels=["ax", "ay"], sample_rate_hz=50, resample_hz=50, window=5, stride=3,
                        value_abs_max=100.0, min_class_count=1)
    return SequenceData(**{**fields, **overrides})


def watch_config(**overrides: object) -> SequenceData:
    return seq_config(source="seglearn_watch", source_path=None, classes=WATCH_CLASSES, channels=WATCH_CHANNELS,
                      sample_rate_hz=50, resample_hz=25, window=100, stride=50, **overrides)


def raw_recording(recording: int, subject: int, label: str, length: int, channels: list[str]) -> pd.DataFrame:
    """Channel c at sample t holds recording*1000 + c*100 + t: every value says where it came from."""
    t = np.arange(length)
    frame = pd.DataFrame({"recording": recording, "subject": subject, "label": label, "t": t})
    for c, ch in enumerate(channels):
        frame[ch] = recording * 1000.0 + c * 100 + t
    return frame


@pytest.fixture(scope="module")
def watch_raw() -> pd.DataFrame:
    return load_seglearn_watch(watch_config())


def test_watch_file_loads_in_the_raw_long_layout(watch_raw):
    assert list(watch_raw.columns) == ["recording", "subject", "label", "t", *WATCH_CHANNELS]
    for column in ("recording", "subject", "t"):
        assert watch_raw[column].dtype == np.int64
    assert all(watch_raw[ch].dtype == np.float64 for ch in WATCH_CHANNELS)
    assert pd.api.types.is_string_dtype(watch_raw["label"])
    assert sorted(watch_raw["recording"].unique()) == list(range(140))
    assert watch_raw["subject"].nunique() == 10
    assert set(watch_raw["label"]) == set(WATCH_CLASSES)
    per_recording = watch_raw.groupby("recording").agg(n=("t", "size"), first=("t", "min"), last=("t", "max"),
                                                       labels=("label", "nunique"), subjects=("subject", "nunique"))
    assert (per_recording["first"] == 0).all() and (per_recording["last"] == per_recording["n"] - 1).all()
    assert (per_recording["labels"] == 1).all() and (per_recording["subjects"] == 1).all()
    assert per_recording["n"].between(900, 3000).all()
    assert watch_raw[WATCH_CHANNELS].notna().all().all()


def test_watch_loader_refuses_channels_or_classes_that_do_not_match_the_file():
    with pytest.raises(DataError, match=r"datasets\.t\.data\.channels"):
        load_seglearn_watch(watch_config().model_copy(update={"channels": ["ax", "ay", "az", "gx", "gy", "gz"]}))
    with pytest.raises(DataError, match=r"datasets\.t\.data\.classes.*"):
        load_seglearn_watch(watch_config().model_copy(update={"classes": WATCH_CLASSES[:-1]}))


def test_real_watch_windows_follow_the_count_formula(watch_raw):
    config = watch_config()
    windows = windows_from_recordings(watch_raw, config)
    lengths = watch_raw.groupby("recording").size()
    expected = sum((math.ceil(n / 2) - 100) // 50 + 1 for n in lengths)
    assert len(windows) == expected and 1500 < expected < 3000
    assert windows_to_tensor(windows, config).shape == (expected, 100, 6)
    assert windows["group"].nunique() == 10 and windows["label"].nunique() == 7


def test_resample_halves_length_and_keeps_a_slow_sine_with_an_offset():
    t = np.arange(500) / 50.0
    values = np.column_stack([9.8 + np.sin(2 * np.pi * 1.0 * t), np.cos(2 * np.pi * 0.5 * t)])
    out = resample(values, 50, 25)
    assert out.shape == (250, 2)
    t25 = np.arange(250) / 25.0
    expected = np.column_stack([9.8 + np.sin(2 * np.pi * 1.0 * t25), np.cos(2 * np.pi * 0.5 * t25)])
    assert np.abs(out[10:-10] - expected[10:-10]).max() < 0.01
    assert np.abs(out - expected).max() < 0.2  # edges too: no zero-padding ramp from the gravity offset
    assert resample(values, 50, 50) is values


def test_resample_removes_a_tone_above_the_new_nyquist():
    t = np.arange(1000) / 50.0
    tone = np.sin(2 * np.pi * 20.0 * t)[:, None]  # 20 Hz: above 12.5 Hz, would alias to 5 Hz if just decimated
    assert np.abs(tone[::2]).max() > 0.5
    assert np.abs(resample(tone, 50, 25)[20:-20]).max() < 0.05


def test_windows_count_columns_labels_and_values_without_resampling():
    config = seq_config(window=5, stride=3)
    raw = pd.concat([raw_recording(0, 7, "b", 23, config.channels), raw_recording(1, 8, "a", 4, config.channels),
                     raw_recording(2, 7, "a", 5, config.channels)], ignore_index=True)
    windows = windows_from_recordings(raw.sample(frac=1.0, random_state=0), config)  # row order must not matter
    assert list(windows.columns) == ["group", "recording", "start", "label", *window_columns(config)]
    assert window_columns(config)[:6] == ["ax_0", "ax_1", "ax_2", "ax_3", "ax_4", "ay_0"]
    assert all(windows[c].dtype == np.int64 for c in ("group", "recording", "start", "label"))
    assert all(windows[c].dtype == np.float32 for c in window_columns(config))
    n0 = (23 - 5) // 3 + 1
    assert len(windows) == n0 + 0 + 1  # the 4-sample recording is shorter than a window
    assert windows["recording"].tolist() == [0] * n0 + [2]
    assert windows["start"].tolist() == [3 * k for k in range(n0)] + [0]
    assert windows["group"].tolist() == [7] * n0 + [7]
    assert windows["label"].tolist() == [1] * n0 + [0]
    row = windows.iloc[2]  # recording 0, start 6
    assert [row[f"ay_{i}"] for i in range(5)] == [100.0 + 6 + i for i in range(5)]


def test_windows_after_resampling_count_and_unknown_label():
    config = seq_config(sample_rate_hz=50, resample_hz=25, window=10, stride=5)
    windows = windows_from_recordings(raw_recording(0, 1, "a", 200, config.channels), config)
    assert len(windows) == (100 - 10) // 5 + 1
    with pytest.raises(DataError, match="'zzz'"):
        windows_from_recordings(raw_recording(0, 1, "zzz", 200, config.channels), config)


def test_windows_to_tensor_puts_time_then_channels():
    config = seq_config(window=5, stride=3)
    windows = windows_from_recordings(raw_recording(0, 1, "a", 23, config.channels), config)
    x = windows_to_tensor(windows, config)
    assert x.shape == (len(windows), 5, 2) and x.dtype == torch.float32
    for i in range(len(windows)):
        assert x[i, 3, 0].item() == windows.iloc[i]["ax_3"]
        assert x[i, 4, 1].item() == windows.iloc[i]["ay_4"]


def test_window_stats_match_numpy_and_name_their_features():
    ax = np.array([[1.0, 3.0, 2.0, 6.0], [0.0, 0.0, 0.0, 0.0]])
    ay = np.array([[-1.0, 1.0, -1.0, 1.0], [2.0, 4.0, 8.0, 16.0]])
    frame = pd.DataFrame(np.hstack([ax, ay]), columns=[f"{ch}_{i}" for ch in ("ax", "ay") for i in range(4)])
    stats = WindowStats(["ax", "ay"], 4).fit(frame)
    names = list(stats.get_feature_names_out())
    assert names[:8] == ["ax_mean", "ax_std", "ax_min", "ax_max", "ax_p25", "ax_p75", "ax_energy", "ax_mad"]
    assert len(names) == 16 and names[8] == "ay_mean"
    out = stats.transform(frame)
    assert out.shape == (2, 16)
    for c, values in enumerate((ax, ay)):
        expected = np.column_stack([values.mean(1), values.std(1), values.min(1), values.max(1),
                                    np.percentile(values, 25, axis=1), np.percentile(values, 75, axis=1),
                                    (values**2).mean(1), np.abs(np.diff(values, axis=1)).mean(1)])
        np.testing.assert_allclose(out[:, 8 * c: 8 * c + 8], expected)
    assert out[0, 7] == pytest.approx((2 + 1 + 4) / 3)  # ax mean |diff| by hand
    np.testing.assert_allclose(stats.transform(frame[frame.columns[::-1]]), out)  # columns picked by name
    np.testing.assert_allclose(stats.transform(frame.to_numpy()), out)
    with pytest.raises(ValueError, match="columns"):
        stats.transform(frame.to_numpy()[:, :7])


@pytest.mark.parametrize("model", [RandomForestClassifier(n_estimators=3, random_state=0),
                                   HistGradientBoostingClassifier(max_iter=3),
                                   ExtraTreesClassifier(n_estimators=3, random_state=0)], ids=["rf", "hgb", "et"])
def test_stats_pipeline_round_trips_through_skops(model, tmp_path):
    config = seq_config(window=8, stride=4)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 16)), columns=window_columns(config))
    y = np.arange(60) % 2
    frame.loc[y == 1, window_columns(config)[:8]] *= 3.0  # class 1: larger ax spread
    pipeline = Pipeline([("stats", WindowStats(config.channels, config.window)), ("model", model)]).fit(frame, y)
    path = tmp_path / "model.skops"
    sio.dump(pipeline, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert "cleargate.kinds.window_stats.WindowStats" in untrusted
    loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(frame), pipeline.predict(frame))
    np.testing.assert_allclose(loaded.predict_proba(frame), pipeline.predict_proba(frame))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recurrent_net_output_shape_and_size(cell):
    net = RecurrentNet(6, 7, hidden=64, layers=2, bidirectional=True, dropout=0.2, cell=cell)
    assert net(torch.zeros(3, 100, 6)).shape == (3, 7)
    assert sum(p.numel() for p in net.parameters()) < 300_000
    with pytest.raises(ValueError, match="cell"):
        RecurrentNet(6, 7, 8, 1, False, 0.0, "transformer")


def test_normaliser_buffers_are_saved_and_change_the_output():
    torch.manual_seed(0)
    net = RecurrentNet(3, 2, hidden=8, layers=1, bidirectional=False, dropout=0.0, cell="lstm").eval()
    x = torch.randn(16, 10, 3) * torch.tensor([1.0, 10.0, 0.0]) + torch.tensor([5.0, -2.0, 9.81])
    before = net(x)
    net.fit_normaliser(x)
    state = net.state_dict()
    assert {"mean", "std"} <= set(state)
    torch.testing.assert_close(state["mean"], x.reshape(-1, 3).mean(0))
    assert state["std"][2].item() == 1.0  # a constant channel is not divided by ~0
    assert not torch.allclose(net(x), before)
    clone = RecurrentNet(3, 2, hidden=8, layers=1, bidirectional=False, dropout=0.0, cell="lstm").eval()
    clone.load_state_dict(state)
    torch.testing.assert_close(clone(x), net(x))


def test_tiny_lstm_learns_sine_versus_square():
    """If it cannot separate sines from square waves, the net, pooling or normaliser is broken."""
    torch.manual_seed(0)
    n, steps = 32, 40
    t = torch.arange(steps, dtype=torch.float32)
    freq = 0.1 + 0.1 * torch.rand(n, 1)
    phase = 2 * torch.pi * torch.rand(n, 1)
    sine = torch.sin(2 * torch.pi * freq * t + phase)
    y = torch.arange(n) % 2
    x = torch.where(y[:, None] == 1, torch.sign(sine), sine)[:, :, None] * 4.0 + 2.0
    net = RecurrentNet(1, 2, hidden=16, layers=1, bidirectional=False, dropout=0.0, cell="lstm")
    net.fit_normaliser(x)
    optimiser = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(80):  # 60 is enough for 9 seeds in 10; 80 for all of 0..19
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        optimiser.step()
    net.eval()
    assert (net(x).argmax(1) == y).float().mean().item() == 1.0
