"""The expectations for image records, built from the dataset's schema in params.yaml.

Four small batches keep Great Expectations fast on 784 pixel columns (one expectation per column
took 45 s on MNIST-5k; this takes about 3 s): the table itself (columns, labels, duplicates), its column
types as a table of (column, dtype), its pixels in long form (one range/null check over every value,
reporting row and column), and the per-class counts (class balance). Each expectation belongs to a
named check, whose policy (fail or quarantine) params.yaml sets.
"""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations.expectations as gxe
import pandas as pd

from cleargate.config import DatasetConfig, ValidationConfig
from cleargate.datasets.schema import LABEL, pixel_columns
from cleargate.split import row_hashes

NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "Int64", "Float64"]
ROW_ID = "row"


@dataclass(frozen=True)
class Batch:
    """One frame and the (check name, expectation) pairs it must meet."""

    name: str
    frame: pd.DataFrame
    expectations: list[tuple[str, gxe.Expectation]]
    index_columns: list[str]


def records_batch(frame: pd.DataFrame, config: DatasetConfig, labelled: bool) -> Batch:
    columns = pixel_columns(config.n_pixels)
    expected = [ROW_ID, *columns, *([LABEL] if labelled else [])]
    expectations: list[tuple[str, gxe.Expectation]] = [
        ("columns", gxe.ExpectTableColumnsToMatchSet(column_set=expected, exact_match=True)),
    ]
    if labelled:
        expectations += [
            ("labels", gxe.ExpectColumnValuesToNotBeNull(column=LABEL)),
            ("labels", gxe.ExpectColumnValuesToBeInSet(column=LABEL, value_set=list(config.classes))),
        ]
        present = [c for c in columns if c in frame.columns]
        if LABEL in frame.columns and present:
            expectations.append(("duplicates", gxe.ExpectCompoundColumnsToBeUnique(column_list=[*present, LABEL])))
    return Batch("records", frame.rename_axis(ROW_ID).reset_index(), expectations, [ROW_ID])


def dtypes_batch(frame: pd.DataFrame, config: DatasetConfig) -> Batch:
    """Column types as data, so one expectation names every non-numeric column."""
    columns = [c for c in [*pixel_columns(config.n_pixels), LABEL] if c in frame.columns]
    types = pd.DataFrame({"column": columns, "dtype": [str(frame[c].dtype) for c in columns]})
    return Batch("dtypes", types, [("dtypes", gxe.ExpectColumnValuesToBeInSet(column="dtype",
                                                                             value_set=NUMERIC_TYPES))], ["column"])


def pixels_batch(frame: pd.DataFrame, config: DatasetConfig) -> Batch:
    """Every pixel value as one row (row, column, value); non-numeric values become nulls."""
    present = [c for c in pixel_columns(config.n_pixels) if c in frame.columns]
    long = (frame[present].rename_axis(ROW_ID).reset_index()
            .melt(id_vars=ROW_ID, var_name="column", value_name="value"))
    long["value"] = pd.to_numeric(long["value"], errors="coerce").astype("float64")
    expectations: list[tuple[str, gxe.Expectation]] = [
        ("pixel_values", gxe.ExpectColumnValuesToNotBeNull(column="value")),
        ("pixel_values", gxe.ExpectColumnValuesToBeBetween(column="value", min_value=config.pixel_min,
                                                           max_value=config.pixel_max)),
    ]
    return Batch("pixels", long, expectations, [ROW_ID, "column"])


def class_counts_batch(frame: pd.DataFrame, config: DatasetConfig, rules: ValidationConfig) -> Batch:
    counts = (frame[LABEL].value_counts().rename_axis(LABEL).reset_index(name="count")
              if LABEL in frame.columns else pd.DataFrame({LABEL: [], "count": []}))
    counts["share"] = counts["count"] / max(len(frame), 1)
    expectations: list[tuple[str, gxe.Expectation]] = [
        ("class_balance", gxe.ExpectColumnDistinctValuesToContainSet(column=LABEL, value_set=list(config.classes))),
        ("class_balance", gxe.ExpectColumnValuesToBeBetween(column="count", min_value=config.min_class_count)),
        ("class_balance", gxe.ExpectColumnValuesToBeBetween(column="share", max_value=rules.max_class_share)),
    ]
    return Batch("class_counts", counts, expectations, [LABEL])


def leakage_batch(splits: dict[str, pd.DataFrame]) -> Batch:
    """One row per sample: (split, row, image hash). A hash seen twice is the same image twice: in two
    splits it would inflate test metrics; in one it is a label conflict. Labels are not hashed."""
    frame = pd.concat([pd.DataFrame({"split": name, ROW_ID: range(len(part)), "image_hash": row_hashes(part)})
                       for name, part in splits.items()], ignore_index=True)
    frame["image_hash"] = frame["image_hash"].astype("string")
    return Batch("leakage", frame, [("leakage", gxe.ExpectColumnValuesToBeUnique(column="image_hash"))],
                 ["split", ROW_ID])


def image_batches(frame: pd.DataFrame, config: DatasetConfig, rules: ValidationConfig,
                  labelled: bool = True) -> list[Batch]:
    """Training data is labelled; a batch to score is not (labels and class balance are then skipped)."""
    batches = [records_batch(frame, config, labelled), dtypes_batch(frame, config), pixels_batch(frame, config)]
    return [*batches, class_counts_batch(frame, config, rules)] if labelled else batches
