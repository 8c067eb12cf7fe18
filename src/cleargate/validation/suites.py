"""The expectations for each kind of data (image, sequence, tabular), built from params.yaml.

For images, four small batches keep Great Expectations fast on 784 pixel columns (one expectation per column
took 45 s on MNIST-5k; this takes about 3 s): the table itself (columns, labels, duplicates), its column
types as a table of (column, dtype), its pixels in long form (one range/null check over every value,
reporting row and column), and the per-class counts (class balance). Sequences add a per-recording
table (one label and one subject per recording, no gaps, long enough for a window); tabular records
check each declared column's range or category set. Each expectation belongs to a named check, whose
policy (fail or quarantine) params.yaml sets. After the split, `split_batches` checks leakage: no
sample and no subject/patient in two splits, and no identifier column left.
"""

from __future__ import annotations

from dataclasses import dataclass

import great_expectations.expectations as gxe
import pandas as pd

from cleargate.config import ImageData, SequenceData, TabularData, ValidationConfig
from cleargate.datasets.schema import GROUP, LABEL, pixel_columns
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


def records_batch(frame: pd.DataFrame, config: ImageData, labelled: bool) -> Batch:
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


def dtypes_batch(frame: pd.DataFrame, config: ImageData) -> Batch:
    """Column types as data, so one expectation names every non-numeric column."""
    columns = [c for c in [*pixel_columns(config.n_pixels), LABEL] if c in frame.columns]
    types = pd.DataFrame({"column": columns, "dtype": [str(frame[c].dtype) for c in columns]})
    return Batch("dtypes", types, [("dtypes", gxe.ExpectColumnValuesToBeInSet(column="dtype",
                                                                             value_set=NUMERIC_TYPES))], ["column"])


def long_values(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Every value of `columns` as one row (row, column, value), non-numeric values as nulls: one range
    expectation then checks them all and still names the column and the row of each bad value."""
    long = (frame[columns].rename_axis(ROW_ID).reset_index()
            .melt(id_vars=ROW_ID, var_name="column", value_name="value"))
    long["value"] = pd.to_numeric(long["value"], errors="coerce").astype("float64")
    return long


def pixels_batch(frame: pd.DataFrame, config: ImageData) -> Batch:
    """Every pixel value as one row (row, column, value); non-numeric values become nulls."""
    present = [c for c in pixel_columns(config.n_pixels) if c in frame.columns]
    long = long_values(frame, present)
    expectations: list[tuple[str, gxe.Expectation]] = [
        ("values", gxe.ExpectColumnValuesToNotBeNull(column="value")),
        ("values", gxe.ExpectColumnValuesToBeBetween(column="value", min_value=config.pixel_min,
                                                           max_value=config.pixel_max)),
    ]
    return Batch("pixels", long, expectations, [ROW_ID, "column"])


def class_counts_batch(labels: pd.Series | None, classes: list, min_count: int, rules: ValidationConfig) -> Batch:
    """Counts per class (of rows, or of recordings for sequences): every class present, none too rare or
    too dominant."""
    counts = (labels.value_counts().rename_axis(LABEL).reset_index(name="count")
              if labels is not None else pd.DataFrame({LABEL: [], "count": []}))
    counts["share"] = counts["count"] / max(int(counts["count"].sum()), 1)
    expectations: list[tuple[str, gxe.Expectation]] = [
        ("class_balance", gxe.ExpectColumnDistinctValuesToContainSet(column=LABEL, value_set=list(classes))),
        ("class_balance", gxe.ExpectColumnValuesToBeBetween(column="count", min_value=min_count)),
        ("class_balance", gxe.ExpectColumnValuesToBeBetween(column="share", max_value=rules.max_class_share)),
    ]
    return Batch("class_counts", counts, expectations, [LABEL])


def _hash_batch(splits: dict[str, pd.DataFrame], columns: list[str]) -> Batch:
    """One row per sample: (split, row, content hash of its features). A hash seen twice is the same sample
    twice: in two splits it would inflate test metrics; in one it is a label conflict. Labels are not hashed."""
    frame = pd.concat([pd.DataFrame({"split": name, ROW_ID: range(len(part)),
                                     "image_hash": row_hashes(part[columns])})
                       for name, part in splits.items()], ignore_index=True)
    frame["image_hash"] = frame["image_hash"].astype("string")
    return Batch("leakage", frame, [("leakage", gxe.ExpectColumnValuesToBeUnique(column="image_hash"))],
                 ["split", ROW_ID])


def _group_batch(splits: dict[str, pd.DataFrame]) -> Batch:
    """One row per (group, split) pair: a subject or patient listed twice sits in two splits."""
    frame = (pd.concat([pd.DataFrame({GROUP: part[GROUP].astype("string"), "split": name})
                        for name, part in splits.items()], ignore_index=True)
             .drop_duplicates().reset_index(drop=True))
    return Batch("groups", frame, [("leakage", gxe.ExpectColumnValuesToBeUnique(column=GROUP))], [GROUP, "split"])


def _identifier_batch(columns: list[str], config: TabularData) -> Batch:
    """The column names of the training table as data: none may be a declared identifier or look like one."""
    frame = pd.DataFrame({"column": columns})
    expectations: list[tuple[str, gxe.Expectation]] = [
        ("identifiers", gxe.ExpectColumnValuesToNotBeInSet(column="column", value_set=config.identifier_columns
                                                           or ["<none>"])),
        ("identifiers", gxe.ExpectColumnValuesToNotMatchRegex(column="column", regex=config.identifier_pattern)),
    ]
    return Batch("identifiers", frame, expectations, ["column"])


def split_batches(splits: dict[str, pd.DataFrame], config: ImageData | SequenceData | TabularData,
                  features: list[str]) -> list[Batch]:
    """Checks on train/val/test before they are written: same sample or same subject in two splits, and
    (tabular) no identifier among the columns. Tabular data with patients is checked by patient only:
    two patients may share every feature value."""
    batches = []
    if not (isinstance(config, TabularData) and GROUP in splits["train"].columns):
        batches.append(_hash_batch(splits, features))
    if GROUP in splits["train"].columns:
        batches.append(_group_batch(splits))
    if isinstance(config, TabularData):
        batches.append(_identifier_batch(list(splits["train"].columns), config))
    return batches


def image_batches(frame: pd.DataFrame, config: ImageData, rules: ValidationConfig,
                  labelled: bool = True) -> list[Batch]:
    """Training data is labelled; a batch to score is not (labels and class balance are then skipped)."""
    batches = [records_batch(frame, config, labelled), dtypes_batch(frame, config), pixels_batch(frame, config)]
    if not labelled:
        return batches
    labels = frame[LABEL] if LABEL in frame.columns else None
    return [*batches, class_counts_batch(labels, config.classes, config.min_class_count, rules)]


SEQUENCE_KEYS = ["recording", "subject", LABEL, "t"]


def sequence_batches(frame: pd.DataFrame, config: SequenceData, rules: ValidationConfig) -> list[Batch]:
    """Raw recordings, one row per sample: the table, its types, every sensor value, each recording."""
    expected = [ROW_ID, *SEQUENCE_KEYS, *config.channels]
    records: list[tuple[str, gxe.Expectation]] = [
        ("columns", gxe.ExpectTableColumnsToMatchSet(column_set=expected, exact_match=True)),
        ("labels", gxe.ExpectColumnValuesToNotBeNull(column=LABEL)),
        ("labels", gxe.ExpectColumnValuesToBeInSet(column=LABEL, value_set=list(config.classes))),
    ]
    if {"recording", "t"} <= set(frame.columns):
        records.append(("duplicates", gxe.ExpectCompoundColumnsToBeUnique(column_list=["recording", "t"])))
    numeric = [c for c in ["recording", "subject", "t", *config.channels] if c in frame.columns]
    types = pd.DataFrame({"column": numeric, "dtype": [str(frame[c].dtype) for c in numeric]})
    present = [c for c in config.channels if c in frame.columns]
    long = long_values(frame, present)
    batches = [
        Batch("records", frame.rename_axis(ROW_ID).reset_index(), records, [ROW_ID]),
        Batch("dtypes", types, [("dtypes", gxe.ExpectColumnValuesToBeInSet(column="dtype", value_set=NUMERIC_TYPES))],
              ["column"]),
        Batch("values", long, [
            ("values", gxe.ExpectColumnValuesToNotBeNull(column="value")),
            ("values", gxe.ExpectColumnValuesToBeBetween(column="value", min_value=-config.value_abs_max,
                                                         max_value=config.value_abs_max)),
        ], [ROW_ID, "column"]),
    ]
    if set(SEQUENCE_KEYS) <= set(frame.columns):
        batches.append(_recordings_batch(frame, config))
        per_recording = frame.groupby("recording")[LABEL].first()
        batches.append(class_counts_batch(per_recording, config.classes, config.min_class_count, rules))
    return batches


def window_batches(frame: pd.DataFrame, config: SequenceData) -> list[Batch]:
    """A batch of windows to score (what the model takes): the window columns exactly, every value sane."""
    from cleargate.sequences import window_columns

    columns = window_columns(config)
    present = [c for c in columns if c in frame.columns]
    long = long_values(frame, present)
    return [
        Batch("records", frame.rename_axis(ROW_ID).reset_index(), [
            ("columns", gxe.ExpectTableColumnsToMatchSet(column_set=[ROW_ID, *columns], exact_match=True))],
              [ROW_ID]),
        Batch("values", long, [
            ("values", gxe.ExpectColumnValuesToNotBeNull(column="value")),
            ("values", gxe.ExpectColumnValuesToBeBetween(column="value", min_value=-config.value_abs_max,
                                                         max_value=config.value_abs_max)),
        ], [ROW_ID, "column"]),
    ]


def _recordings_batch(frame: pd.DataFrame, config: SequenceData) -> Batch:
    """One row per recording: one label, one subject, samples 0..n-1 without gaps, at least one window."""
    stats = frame.groupby("recording").agg(labels=(LABEL, "nunique"), subjects=("subject", "nunique"),
                                           length=("t", "size"), first=("t", "min"), last=("t", "max"))
    stats["gaps"] = stats["last"] - stats["first"] + 1 - stats["length"]
    min_length = int(config.window * config.sample_rate_hz / config.resample_hz)
    expectations: list[tuple[str, gxe.Expectation]] = [
        ("recordings", gxe.ExpectColumnValuesToBeBetween(column="labels", min_value=1, max_value=1)),
        ("recordings", gxe.ExpectColumnValuesToBeBetween(column="subjects", min_value=1, max_value=1)),
        ("recordings", gxe.ExpectColumnValuesToBeBetween(column="gaps", min_value=0, max_value=0)),
        ("recordings", gxe.ExpectColumnValuesToBeBetween(column="length", min_value=min_length)),
    ]
    return Batch("recordings", stats.reset_index(), expectations, ["recording"])


def _numeric_or_text(column: pd.Series) -> str:
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return "numeric" if numeric else "text"


def tabular_batches(frame: pd.DataFrame, config: TabularData, rules: ValidationConfig,
                    labelled: bool = True) -> list[Batch]:
    """Raw records: the declared columns exactly, each feature's type, range or category set, the target."""
    declared = [config.target, *([config.group_column] if config.group_column else []),
                *config.identifier_columns, *config.drop_columns, *config.features]
    expected = [ROW_ID, *(declared if labelled else config.features)]
    records: list[tuple[str, gxe.Expectation]] = [
        ("columns", gxe.ExpectTableColumnsToMatchSet(column_set=expected, exact_match=True)),
    ]
    if labelled:
        outcomes = [*config.classes, *config.exclude_labels]
        records += [("labels", gxe.ExpectColumnValuesToNotBeNull(column=config.target)),
                    ("labels", gxe.ExpectColumnValuesToBeInSet(column=config.target, value_set=outcomes))]
        keys = [c for c in [config.target, *([config.group_column] if config.group_column else []),
                            *config.features] if c in frame.columns]
        records.append(("duplicates", gxe.ExpectCompoundColumnsToBeUnique(column_list=keys)))
    for column, spec in config.features.items():
        if column not in frame.columns:
            continue
        check = "values" if spec.type == "numeric" else "categories"
        if not spec.nullable:
            records.append((check, gxe.ExpectColumnValuesToNotBeNull(column=column)))
        if spec.type == "numeric" and (spec.min is not None or spec.max is not None):
            records.append((check, gxe.ExpectColumnValuesToBeBetween(column=column, min_value=spec.min,
                                                                     max_value=spec.max)))
        if spec.type == "categorical" and spec.values is not None:
            records.append((check, gxe.ExpectColumnValuesToBeInSet(column=column, value_set=spec.values)))
    present = [c for c in config.features if c in frame.columns]
    types = pd.DataFrame({"column": present,
                          "dtype": [_numeric_or_text(frame[c]) for c in present],
                          "expected": ["numeric" if config.features[c].type == "numeric" else "text" for c in present]})
    batches = [
        Batch("records", frame.rename_axis(ROW_ID).reset_index(), records, [ROW_ID]),
        Batch("dtypes", types, [("dtypes", gxe.ExpectColumnPairValuesToBeEqual(column_A="dtype",
                                                                               column_B="expected"))], ["column"]),
    ]
    if labelled:
        labels = frame[config.target] if config.target in frame.columns else None
        if labels is not None:
            labels = labels[labels.isin(config.classes)]
        batches.append(class_counts_batch(labels, config.classes, config.min_class_count, rules))
    return batches


def raw_batches(frame: pd.DataFrame, config: ImageData | SequenceData | TabularData, rules: ValidationConfig,
                labelled: bool = True) -> list[Batch]:
    """The suite for the dataset's kind; a batch to score is unlabelled (label checks are skipped)."""
    if isinstance(config, ImageData):
        return image_batches(frame, config, rules, labelled)
    if isinstance(config, SequenceData):
        return sequence_batches(frame, config, rules) if labelled else window_batches(frame, config)
    return tabular_batches(frame, config, rules, labelled)
