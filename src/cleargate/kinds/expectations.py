"""Building blocks of each kind's Great Expectations suite, as plain data (no GE import here).

A `Rule` names a GE expectation class and its arguments; a `Batch` is one frame and the rules it must
meet. `cleargate.validation.run` turns them into GE objects and runs them. Keeping suites as data lets a
kind declare its checks without importing Great Expectations (seconds of start-up) just to load params.

Wide tables are checked in long form: every pixel or sensor value becomes one row (row, column, value),
so one range expectation covers them all and still names the column and the row of each bad value
(one expectation per column would cost an order of magnitude more on 784 pixel columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cleargate.io import row_hashes
from cleargate.schema import GROUP, LABEL, ROW

NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64", "Int64", "Float64"]


@dataclass(frozen=True)
class Rule:
    """One expectation of a named check (the check's policy in params.yaml decides fail or quarantine)."""

    check: str
    expectation: str                      # a class in great_expectations.expectations
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """One frame and the rules it must meet; `index_columns` locate each offending row in reports."""

    name: str
    frame: pd.DataFrame
    rules: list[Rule]
    index_columns: list[str]
    long_columns: list[str] = field(default_factory=list)  # the wide columns a long-form batch melts

    @property
    def per_row(self) -> bool:
        """Each row of this batch comes from one input row (its id in `row`): it can be checked chunk by
        chunk. Other batches (column types, class counts) summarise the whole table."""
        return ROW in self.index_columns


def with_row_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its row labels as a first column, ROW; joined, not inserted: a wide frame of many dtype blocks
    (a table whose columns were read or cast one by one) would make pandas warn of fragmentation on an insert."""
    return pd.concat([frame.index.to_series(name=ROW).reset_index(drop=True), frame.reset_index(drop=True)], axis=1)


def columns_rule(expected: list[str]) -> Rule:
    return Rule("columns", "ExpectTableColumnsToMatchSet", {"column_set": [ROW, *expected], "exact_match": True})


def label_rules(column: str, allowed: list[Any]) -> list[Rule]:
    return [Rule("labels", "ExpectColumnValuesToNotBeNull", {"column": column}),
            Rule("labels", "ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(allowed)})]


def dtypes_batch(frame: pd.DataFrame, columns: list[str]) -> Batch:
    """Column types as data, so one expectation names every non-numeric column."""
    present = [c for c in columns if c in frame.columns]
    types = pd.DataFrame({"column": present, "dtype": [str(frame[c].dtype) for c in present]})
    return Batch("dtypes", types, [Rule("dtypes", "ExpectColumnValuesToBeInSet",
                                        {"column": "dtype", "value_set": NUMERIC_TYPES})], ["column"])


def long_values(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Every value of `columns` as one row (row, column, value), non-numeric values as nulls."""
    long = with_row_ids(frame[columns]).melt(id_vars=ROW, var_name="column", value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce").astype("float64")
    return long


def values_batch(name: str, frame: pd.DataFrame, columns: list[str], low: float, high: float) -> Batch:
    """Every value present and within [low, high], checked in long form."""
    present = [c for c in columns if c in frame.columns]
    return Batch(name, long_values(frame, present), [
        Rule("values", "ExpectColumnValuesToNotBeNull", {"column": "value"}),
        Rule("values", "ExpectColumnValuesToBeBetween", {"column": "value", "min_value": low, "max_value": high}),
    ], [ROW, "column"], long_columns=present)


def duplicates_batch(frame: pd.DataFrame, columns: list[str]) -> Batch:
    """Exact copies of a record (the same values in every one of `columns`) as one content hash per row, so
    one uniqueness check on one column covers wide records (GE's compound-columns check took 37 s for 60
    colour images of 3,073 columns)."""
    present = [c for c in columns if c in frame.columns]
    hashes = (pd.util.hash_pandas_object(frame[present], index=False) if present
              else pd.Series(range(len(frame)), index=frame.index))
    table = pd.DataFrame({ROW: frame.index, "record_hash": hashes.to_numpy()})
    table["record_hash"] = table["record_hash"].astype("string")
    return Batch("duplicates", table, [Rule("duplicates", "ExpectColumnValuesToBeUnique", {"column": "record_hash"})],
                 [ROW])


def _numeric_array(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as float64, non-numeric values as NaN (coerced only when a column is not numeric already)."""
    values = frame[columns]
    if not all(pd.api.types.is_numeric_dtype(t) for t in values.dtypes):
        values = values.apply(pd.to_numeric, errors="coerce")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def channel_values_batch(frame: pd.DataFrame, channels: list[list[str]], low: float, high: float) -> Batch:
    """Wide multi-channel records (colour images) checked per channel, one row per (row, channel): its
    smallest and largest value within [low, high] and no missing or non-numeric value. Long form would be a
    row per value, 184 million for CIFAR-10; this is one per image and channel, and still names both."""
    parts = []
    for index, columns in enumerate(channels):
        present = [c for c in columns if c in frame.columns]
        if not present:
            continue
        array = _numeric_array(frame, present)
        missing = np.isnan(array)
        filled = np.where(missing, low, array)   # a missing value is counted in `missing`, not ranged
        parts.append(pd.DataFrame({ROW: frame.index, "column": f"channel {index}", "min": filled.min(axis=1),
                                   "max": filled.max(axis=1), "missing": missing.sum(axis=1)}))
    summary = (pd.concat(parts, ignore_index=True) if parts
               else pd.DataFrame({ROW: [], "column": [], "min": [], "max": [], "missing": []}))
    between = "ExpectColumnValuesToBeBetween"
    return Batch("channel_values", summary, [
        Rule("values", between, {"column": "missing", "min_value": 0, "max_value": 0}),
        Rule("values", between, {"column": "min", "min_value": low, "max_value": high}),
        Rule("values", between, {"column": "max", "min_value": low, "max_value": high}),
    ], [ROW, "column"])


def channel_spread_batch(frame: pd.DataFrame, channels: list[list[str]]) -> Batch:
    """One row per channel with the spread of its values over the whole file: a channel that never varies is
    dead or missing (a grey image stored as colour with one plane blank, a sensor that wrote zeros)."""
    spread = []
    for index, columns in enumerate(channels):
        present = [c for c in columns if c in frame.columns]
        std = float(np.nanstd(_numeric_array(frame, present))) if present and len(frame) else 0.0
        spread.append({"channel": index, "std": 0.0 if np.isnan(std) else std})
    return Batch("channel_spread", pd.DataFrame(spread, columns=["channel", "std"]), [
        Rule("channels", "ExpectColumnValuesToBeBetween", {"column": "std", "min_value": 0, "strict_min": True}),
    ], ["channel"])


def class_counts_batch(labels: pd.Series | None, classes: list[Any], min_count: int, max_share: float) -> Batch:
    """Counts per class (of rows, or of recordings): every class present, none too rare or too dominant."""
    counts = (labels.value_counts().rename_axis(LABEL).reset_index(name="count")
              if labels is not None else pd.DataFrame({LABEL: [], "count": []}))
    counts["share"] = counts["count"] / max(int(counts["count"].sum()), 1)
    return Batch("class_counts", counts, [
        Rule("class_balance", "ExpectColumnDistinctValuesToContainSet", {"column": LABEL, "value_set": list(classes)}),
        Rule("class_balance", "ExpectColumnValuesToBeBetween", {"column": "count", "min_value": min_count}),
        Rule("class_balance", "ExpectColumnValuesToBeBetween", {"column": "share", "max_value": max_share}),
    ], [LABEL])


def hash_batch(splits: dict[str, pd.DataFrame], columns: list[str]) -> Batch:
    """One row per sample: (split, row, content hash of its features). A hash seen twice is the same sample
    twice: in two splits it would inflate test metrics; in one it is a label conflict. Labels are not hashed."""
    frame = pd.concat([pd.DataFrame({"split": name, ROW: range(len(part)), "image_hash": row_hashes(part[columns])})
                       for name, part in splits.items()], ignore_index=True)
    frame["image_hash"] = frame["image_hash"].astype("string")
    return Batch("leakage", frame, [Rule("leakage", "ExpectColumnValuesToBeUnique", {"column": "image_hash"})],
                 ["split", ROW])


def group_batch(splits: dict[str, pd.DataFrame]) -> Batch:
    """One row per (group, split) pair: a subject or patient listed twice sits in two splits."""
    frame = (pd.concat([pd.DataFrame({GROUP: part[GROUP].astype("string"), "split": name})
                        for name, part in splits.items()], ignore_index=True)
             .drop_duplicates().reset_index(drop=True))
    return Batch("groups", frame, [Rule("leakage", "ExpectColumnValuesToBeUnique", {"column": GROUP})],
                 [GROUP, "split"])


def sample_leakage(splits: dict[str, pd.DataFrame], features: list[str]) -> list[Batch]:
    """The same sample in two splits (by content), and the same subject in two splits when there are groups."""
    batches = [hash_batch(splits, features)]
    if GROUP in splits["train"].columns:
        batches.append(group_batch(splits))
    return batches
