"""Colour images (a CIFAR-10-format fixture) through their Great Expectations suite: per-channel ranges and
missing values named by channel and row, duplicates by record hash, a dead channel, scoring batches."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cleargate.config.judging import ValidationConfig
from cleargate.datasets import load
from cleargate.kinds import image
from cleargate.kinds.image import ImageData
from cleargate.validation import validate_records
from tests.cifar_fixture import write_cifar10

# the tests cast or set single columns of a 3,072-column frame, leaving it in many blocks: validation must take such
# a frame as it is, without pandas' fragmentation warning (an insert into it)
pytestmark = pytest.mark.filterwarnings("error::pandas.errors.PerformanceWarning")


@pytest.fixture(scope="module")
def cifar(tmp_path_factory: pytest.TempPathFactory):
    folder = write_cifar10(tmp_path_factory.mktemp("cifar"), per_class=1)
    data = ImageData(name="cifar", kind="image", source="cifar10_binary", source_path=folder,
                     image_shape=(3, 32, 32), classes=list(range(10)), min_class_count=1)
    return data, load(data)


def check(data: ImageData, frame, **policy):
    rules = ValidationConfig(policy=policy, max_quarantine_fraction=0.05, max_class_share=0.2)
    return validate_records(frame, data, rules, "data/raw/cifar.parquet")


def test_colour_records_pass_their_per_channel_checks(cifar):
    data, frame = cifar
    report = check(data, frame)
    assert report.passed, report.message()
    per_channel = [c for c in report.checks if c.batch in ("channel_values", "channel_spread")]
    assert {c.check for c in per_channel} == {"values", "channels"}
    assert {c.batch for c in report.checks} >= {"records", "dtypes", "class_counts"}


def test_a_bad_value_names_its_channel_and_row(cifar):
    data, frame = cifar
    bad = frame.astype({"pixel_1030": "int64", "pixel_5": "float64"})
    bad.loc[7, "pixel_1030"] = 300          # green plane
    bad.loc[3, "pixel_5"] = np.nan          # red plane
    report = check(data, bad)
    message = report.message()
    assert not report.passed
    assert "1 image channels fail expect_column_values_to_be_between(max, 0..255) (channel 1: rows 7)" in message
    assert "(missing, 0..0) (channel 0: rows 3)" in message


def test_bad_values_can_be_quarantined_row_by_row(cifar):
    data, frame = cifar
    bad = frame.astype({"pixel_2100": "int64"})
    bad.loc[[4, 9], "pixel_2100"] = -1     # blue plane
    report = check(data, bad, values="quarantine")
    assert sorted(report.quarantined) == [4, 9] and report.passed, "2 of 60 rows: under the 5% limit"
    assert set(report.quarantined.values()) == {"values: expect_column_values_to_be_between(min, 0..255)"}


def test_an_extra_copy_of_an_image_is_quarantined(cifar):
    data, frame = cifar
    copied = pd.concat([frame, frame.iloc[[5]]], ignore_index=True)
    report = check(data, copied, duplicates="quarantine")
    assert report.passed and list(report.quarantined) == [60], "the first copy stays"
    assert "expect_column_values_to_be_unique(record_hash)" in report.quarantined[60]
    relabelled = frame.copy()
    relabelled.loc[6, "label"] = (relabelled.loc[6, "label"] + 1) % 10
    assert check(data, pd.concat([frame, relabelled.iloc[[6]]], ignore_index=True)).passed, \
        "same pixels, other label: not a copy (the split's leakage check catches it)"


def test_a_dead_channel_fails_the_channels_check(cifar):
    data, frame = cifar
    dead = frame.copy()
    dead[image.channel_columns(data)[2]] = 0
    report = check(data, dead)
    assert [c.check for c in report.blocking] == ["channels"]
    message = report.message()
    assert "1 channels fail expect_column_values_to_be_between(std, 0..)" in message
    assert "channel 2" in message and "std 0.0" in message


def test_scoring_a_colour_batch_checks_columns_and_channels(cifar):
    data, frame = cifar
    batch = frame.drop(columns="label").head(3)
    assert validate_records(batch, data, ValidationConfig(max_quarantine_fraction=0), "b", labelled=False).passed
    short = batch.drop(columns="pixel_3071")
    report = validate_records(short, data, ValidationConfig(max_quarantine_fraction=0), "b", labelled=False)
    assert not report.passed and "columns" in {c.check for c in report.blocking}


def test_the_fixture_is_written_in_cifar_layout(tmp_path: Path):
    folder = write_cifar10(tmp_path, per_class=2)
    assert sorted(p.name for p in folder.iterdir())[:2] == ["batches.meta.txt", "data_batch_1.bin"]
    assert all((folder / f"data_batch_{i}.bin").stat().st_size == 20 * 3073 for i in range(1, 6))
