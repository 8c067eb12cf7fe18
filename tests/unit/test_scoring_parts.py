"""The parts of streaming batch scoring on real files: the file in chunks, the output folder written whole,
the model reference listing, progress lines."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cleargate.errors import DataError
from cleargate.layout import ScoreFiles
from cleargate.scoring.progress import Bar, Lines, progress_for
from cleargate.scoring.source import BatchSource
from cleargate.scoring.staging import Staging
from cleargate.tracking.model_ref import _ranges
from tests.unit.test_bootstrap_and_drift import frames


def write(frame: pd.DataFrame, path: Path, **kw) -> Path:
    frame.to_parquet(path, **kw) if path.suffix == ".parquet" else frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name", ["batch.parquet", "batch.csv"])
def test_a_file_streams_in_chunks_indexed_by_file_position(tmp_path: Path, name: str):
    _, batch = frames(n=1234)
    batch = batch.fillna(0).astype({"b": "int64", "c": "int64"})
    extra = {"row_group_size": 100} if name.endswith("parquet") else {}
    path = write(batch, tmp_path / name, **extra)
    source = BatchSource(path, chunk_rows=500)
    chunks = list(source.chunks())
    assert [len(c) for c in chunks] == [500, 500, 234] and source.n_rows == 1234
    whole = pd.concat(chunks)
    assert (whole.index == np.arange(1234)).all()
    pd.testing.assert_frame_equal(whole.reset_index(drop=True), batch, check_dtype=False, atol=1e-12)
    assert list(source.empty().columns) == list(batch.columns) and source.empty().empty
    only = next(BatchSource(path, 500).chunks(columns=["b"]))
    assert list(only.columns) == ["b"]


def test_a_filtered_frame_saved_by_pandas_reads_as_pandas_reads_it(tmp_path: Path):
    _, batch = frames(n=100)
    kept = batch[batch["b"] > 100]  # its index is no longer a range: pandas stores it as a column
    path = write(kept, tmp_path / "kept.parquet")
    chunk = next(BatchSource(path, 1000).chunks())
    assert list(chunk.columns) == list(pd.read_parquet(path).columns) == ["a", "b", "c"]
    assert list(BatchSource(path, 1000).empty().columns) == ["a", "b", "c"]


@pytest.mark.parametrize(("make", "expected"), [
    (None, "file not found"),
    (lambda p: p.write_bytes(b""), "file is empty"),
    (lambda p: p.write_bytes(b"PAR1 not really"), "truncated or corrupt"),
])
def test_unreadable_files_are_one_clear_error(tmp_path: Path, make, expected: str):
    path = tmp_path / "batch.parquet"
    if make:
        make(path)
    with pytest.raises(DataError, match=expected):
        BatchSource(path, 100)


def test_a_file_damaged_part_way_is_one_clear_error(tmp_path: Path):
    _, batch = frames(n=3000)
    path = write(batch, tmp_path / "batch.parquet", row_group_size=500)
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4000] = b"\x00" * 4000  # a damaged row group, intact footer
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="batch.parquet: not a readable parquet file"):
        for _ in BatchSource(path, 500).chunks():
            pass


def test_the_output_folder_is_replaced_whole_and_an_abandoned_one_leaves_nothing(tmp_path: Path):
    final = ScoreFiles(tmp_path / "scores" / "batch-abc" / "model-v1")
    with Staging(final) as stage:
        stage.files.report.write_text("first")
        stage.files.predictions.write_text("first predictions")
        stage.commit()
    with Staging(final) as stage:
        stage.files.report.write_text("second: refused")
        stage.commit()
    assert final.report.read_text() == "second: refused" and not final.predictions.exists()
    with pytest.raises(RuntimeError), Staging(final) as stage:
        stage.files.report.write_text("third, crashed")
        raise RuntimeError
    assert final.report.read_text() == "second: refused"
    assert [p.name for p in final.dir.parent.iterdir()] == ["model-v1"], "no temp folder is left behind"


def test_version_ranges_read_like_a_person_writes_them():
    assert _ranges([1, 2, 3, 4]) == "1-4" and _ranges([1, 2, 3, 4, 7, 9, 10]) == "1-4, 7, 9-10" and _ranges([]) == ""


def test_progress_is_lines_off_a_terminal_and_a_bar_on_one():
    stream = io.StringIO()
    assert isinstance(progress_for(stream), Lines)
    with Lines(stream, every=0).phase("predict", 300) as advance:
        for _ in range(3):
            advance(100)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("cleargate score: predict 100/300 rows (33%)") and lines[-1].startswith(
        "cleargate score: predict 300/300 rows (100%)")
    quiet = io.StringIO()
    with Lines(quiet).phase("predict", 300) as advance:  # done in under 5 s: nothing printed
        advance(300)
    assert quiet.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    assert isinstance(progress_for(terminal), Bar)
    with Bar(terminal).phase("validate + drift", 10) as advance:
        advance(10)
    assert "validate + drift" in terminal.getvalue()
