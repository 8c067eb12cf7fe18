"""The expectations for image records, built from the dataset's schema in params.yaml.

Four small batches keep Great Expectations fast on 784 pixel columns (one expectation per column
took 45 s on MNIST-5k; this takes about 3 s): the table itself (columns, labels, duplicates), its column
types as a table of (column, dtype), its pixels in long form (one range/null check over every value,
reporting row and column), and the per-class counts (class balance).
"""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations.expectations as gxe
import pandas as pd

from cleargate.config import DatasetConfig
from cleargate.datasets.schema import LABEL, pixel_columns

NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "Int64", "Float64"]
ROW_ID = "row"


@dataclass(frozen=True)
class Batch:
    """One frame and the expectations it must meet."""

    name: str
    frame: pd.DataFrame
    expectations: list[gxe.Expectation]
    index_columns: list[str]


def records_batch(frame: pd.DataFrame, config: DatasetConfig) -> Batch:
    columns = pixel_columns(config.n_pixels)
    expectations: list[gxe.Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=[ROW_ID, *columns, LABEL], exact_match=True),
        gxe.ExpectColumnValuesToNotBeNull(column=LABEL),
        gxe.ExpectColumnValuesToBeInSet(column=LABEL, value_set=list(config.classes)),
    ]
    present = [c for c in columns if c in frame.columns]
    if LABEL in frame.columns and present:
        expectations.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=[*present, LABEL]))
    return Batch("records", frame.rename_axis(ROW_ID).reset_index(), expectations, [ROW_ID])


def dtypes_batch(frame: pd.DataFrame, config: DatasetConfig) -> Batch:
    """Column types as data, so one expectation names every non-numeric column."""
    columns = [c for c in [*pixel_columns(config.n_pixels), LABEL] if c in frame.columns]
    types = pd.DataFrame({"column": columns, "dtype": [str(frame[c].dtype) for c in columns]})
    return Batch("dtypes", types, [gxe.ExpectColumnValuesToBeInSet(column="dtype", value_set=NUMERIC_TYPES)],
                 ["column"])


def pixels_batch(frame: pd.DataFrame, config: DatasetConfig) -> Batch:
    """Every pixel value as one row (row, column, value); non-numeric values become nulls."""
    present = [c for c in pixel_columns(config.n_pixels) if c in frame.columns]
    long = (frame[present].rename_axis(ROW_ID).reset_index()
            .melt(id_vars=ROW_ID, var_name="column", value_name="value"))
    long["value"] = pd.to_numeric(long["value"], errors="coerce").astype("float64")
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToNotBeNull(column="value"),
        gxe.ExpectColumnValuesToBeBetween(column="value", min_value=config.pixel_min,
                                          max_value=config.pixel_max),
    ]
    return Batch("pixels", long, expectations, [ROW_ID, "column"])


def class_counts_batch(frame: pd.DataFrame, config: DatasetConfig) -> Batch:
    counts = (frame[LABEL].value_counts().rename_axis(LABEL).reset_index(name="count")
              if LABEL in frame.columns else pd.DataFrame({LABEL: [], "count": []}))
    expectations: list[gxe.Expectation] = [
        gxe.ExpectColumnDistinctValuesToContainSet(column=LABEL, value_set=list(config.classes)),
        gxe.ExpectColumnValuesToBeBetween(column="count", min_value=config.min_class_count),
    ]
    return Batch("class_counts", counts, expectations, [LABEL])


def image_batches(frame: pd.DataFrame, config: DatasetConfig) -> list[Batch]:
    return [records_batch(frame, config), dtypes_batch(frame, config), pixels_batch(frame, config),
            class_counts_batch(frame, config)]
