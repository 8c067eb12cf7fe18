"""Every bad input a user will hit, through the real stage entry points: exit 2 and one clear message.

`pytest tests/e2e/test_bad_inputs.py -s` prints the table of messages (kind | what the user sees), a row
per case as it passes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cleargate.errors import REFUSED, USAGE
from cleargate.kinds.image import records_from_arrays
from cleargate.stages.entry import main
from tests.projects import tiny_params, write_params


def command(stage: str):
    return lambda argv: main([stage, *argv])


ingest, validate, split, train = (command(s) for s in ("ingest", "validate", "split", "train"))


def digits() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    data = load_digits()
    return records_from_arrays(np.rint(data.images * 255 / 16).astype("int64"), data.target)


def floats(frame: pd.DataFrame, column: str, value: float) -> pd.DataFrame:
    frame[column] = frame[column].astype("float64")
    frame.loc[4, column] = value
    return frame


def _set(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    frame.loc[row, column] = value
    return frame


# kind -> (how to make the user's file, what the message must say)
FILES = {
    "missing file": (None, "file not found"),
    "empty file": (lambda p: p.write_bytes(b""), "file is empty"),
    "truncated parquet": (lambda p: p.write_bytes(_parquet_bytes()[:300]), "truncated or corrupt"),
    "wrong file type": ("png", "unsupported file type '.png'"),
    "missing column": (lambda f: f.drop(columns=["pixel_10"]), "expect_table_columns_to_match_set"),
    "extra column": (lambda f: f.assign(patient_name="x"), "expect_table_columns_to_match_set"),
    "wrong dtype": (lambda f: f.astype({"pixel_3": str}), "(column pixel_3)"),
    "NaN value": (lambda f: floats(f, "pixel_7", np.nan),
                  "expect_column_values_to_not_be_null(value) (pixel_7: rows 4)"),
    "inf value": (lambda f: floats(f, "pixel_7", np.inf), "(pixel_7: rows 4)"),
    "out-of-range value": (lambda f: _set(f, 17, "pixel_12", 300), "(pixel_12: rows 17)"),
    "unknown label": (lambda f: _set(f, 5, "label", 11), "expect_column_values_to_be_in_set(label"),
    "single-class data": (lambda f: f[f["label"] == 3], "expect_column_distinct_values_to_contain_set"),
}


def _parquet_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    digits().to_parquet(buffer)
    return buffer.getvalue()


def record(kind: str, message: str) -> None:
    """One row of the bad-input table (shown with `pytest -s`)."""
    print(f"\n| {kind} | `{message.splitlines()[0]}` |")


def run_entry(main, argv: list[str], capsys, code: int = REFUSED) -> str:
    """The stage command's exit code (refused input, unless said otherwise) and its one-line message."""
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err.removeprefix("error: ").strip()


def user_params(tmp_path: Path, source: Path, **over) -> Path:
    params = tiny_params()
    params["datasets"]["digits"]["data"].update({"source": "parquet", "source_path": str(source)})
    for key, value in over.items():
        params[key] = value
    return write_params(tmp_path / "params.yaml", params)


@pytest.mark.parametrize("kind", list(FILES))
def test_bad_file(kind: str, tmp_path: Path, capsys):
    make, expected = FILES[kind]
    source = tmp_path / ("data.png" if make == "png" else "data.parquet")
    if make == "png":
        source.write_bytes(b"\x89PNG\r\n")
    elif callable(make) and make.__code__.co_varnames[:1] == ("p",):
        make(source)
    elif make is not None:
        make(digits()).to_parquet(source)
    params = str(user_params(tmp_path, source))
    if ingest(["--params", params]) == 0:
        capsys.readouterr()
        message = run_entry(validate, ["--params", params], capsys)
    else:
        message = capsys.readouterr().err.removeprefix("error: ").strip()
    assert expected in message, message
    assert str(tmp_path) in message, "the message names the file"
    record(kind, message)


def test_duplicated_rows_with_fail_policy(tmp_path: Path, capsys):
    source = tmp_path / "data.parquet"
    frame = digits()
    pd.concat([frame, frame.iloc[[0]]], ignore_index=True).to_parquet(source)
    params = tiny_params()
    params["datasets"]["digits"]["data"].update({"source": "parquet", "source_path": str(source)})
    params["datasets"]["digits"]["validation"]["policy"]["duplicates"] = "fail"
    path = str(write_params(tmp_path / "params.yaml", params))
    assert ingest(["--params", path]) == 0
    message = run_entry(validate, ["--params", path], capsys)
    assert "2 rows fail expect_compound_columns_to_be_unique" in message
    record("duplicated rows (policy fail)", message)


def test_train_test_leakage(tmp_path: Path, capsys):
    params = tiny_params()
    path = str(write_params(tmp_path / "params.yaml", params))
    interim = tmp_path / "data" / "interim"
    interim.mkdir(parents=True)
    frame = digits()
    pd.concat([frame, frame], ignore_index=True).to_parquet(interim / "digits.parquet")
    message = run_entry(split, ["--params", path], capsys)
    assert "data/interim/digits.parquet:" in message and "expect_column_values_to_be_unique(image_hash)" in message
    assert not (tmp_path / "data" / "processed").exists(), "no split is written when leakage is found"
    record("train/test leakage", message)


def test_wrong_image_shape(tmp_path: Path, capsys):
    source = tmp_path / "images.npz"
    np.savez(source, images=np.zeros((20, 10, 10)), labels=np.zeros(20))
    params = tiny_params()
    params["datasets"]["digits"]["data"].update({"source": "npz", "source_path": str(source)})
    message = run_entry(ingest, ["--params", str(write_params(tmp_path / "params.yaml", params))], capsys)
    assert "images have shape (10, 10), expected (8, 8)" in message
    record("wrong image shape", message)


@pytest.mark.parametrize(("kind", "mutate", "expected"), [
    ("typo'd key in params.yaml", lambda p: p["train"]["cnn"].update(max_epoch=3), "train.cnn.max_epoch: unknown key"),
    ("negative hyper-parameter", lambda p: p["train"]["cnn"].update(learning_rate=-0.1), "train.cnn.learning_rate"),
    ("absurd hyper-parameter", lambda p: p["train"]["cnn"].update(batch_size=10**9), "train.cnn.batch_size"),
])
def test_bad_config(kind, mutate, expected, tmp_path: Path, capsys):
    params = tiny_params()
    mutate(params)
    message = run_entry(ingest, ["--params", str(write_params(tmp_path / "params.yaml", params))], capsys, USAGE)
    assert expected in message and "params.yaml" in message
    record(kind, message)


def test_unknown_model_name(tmp_path: Path, capsys):
    path = str(write_params(tmp_path / "params.yaml", tiny_params()))
    message = run_entry(train, ["--params", path, "--model", "resnet"], capsys, USAGE)
    assert "unknown model 'resnet'" in message
    record("unknown model name", message)
