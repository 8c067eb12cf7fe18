"""The Great Expectations suites of tabular records: the declared columns, each feature's type, range or category
set, the target's classes, duplicates; after the split, patients in two parts and identifiers left in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from cleargate.config.judging import ValidationConfig
from cleargate.kinds.expectations import (
    Batch,
    Rule,
    class_counts_batch,
    columns_rule,
    group_batch,
    hash_batch,
    label_rules,
    with_row_ids,
)
from cleargate.schema import GROUP, ROW

if TYPE_CHECKING:
    from cleargate.kinds.tabular import TabularData


def _numeric_or_text(column: pd.Series) -> str:
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return "numeric" if numeric else "text"


def _feature_rules(frame: pd.DataFrame, data: TabularData) -> list[Rule]:
    rules = []
    for column, spec in data.features.items():
        if column not in frame.columns:
            continue
        check = "values" if spec.type == "numeric" else "categories"
        if not spec.nullable:
            rules.append(Rule(check, "ExpectColumnValuesToNotBeNull", {"column": column}))
        if spec.type == "numeric" and (spec.min is not None or spec.max is not None):
            rules.append(Rule(check, "ExpectColumnValuesToBeBetween",
                              {"column": column, "min_value": spec.min, "max_value": spec.max}))
        if spec.type == "categorical" and spec.values is not None:
            rules.append(Rule(check, "ExpectColumnValuesToBeInSet", {"column": column, "value_set": spec.values}))
    return rules


def _suite(frame: pd.DataFrame, data: TabularData, labelled: bool) -> list[Batch]:
    """The declared columns exactly, each feature's type, range or category set, and (labelled) the target."""
    rules = [columns_rule(data.declared_columns if labelled else list(data.features))]
    if labelled:
        rules += label_rules(data.target, [*data.classes, *data.exclude_labels])
        keys = [c for c in [data.target, *([data.group_column] if data.group_column else []), *data.features]
                if c in frame.columns]
        rules.append(Rule("duplicates", "ExpectCompoundColumnsToBeUnique", {"column_list": keys}))
    present = [c for c in data.features if c in frame.columns]
    types = pd.DataFrame({"column": present, "dtype": [_numeric_or_text(frame[c]) for c in present],
                          "expected": ["numeric" if data.features[c].type == "numeric" else "text" for c in present]})
    return [Batch("records", with_row_ids(frame), rules + _feature_rules(frame, data), [ROW]),
            Batch("dtypes", types, [Rule("dtypes", "ExpectColumnPairValuesToBeEqual",
                                         {"column_A": "dtype", "column_B": "expected"})], ["column"])]


def raw_suite(frame: pd.DataFrame, data: TabularData, rules: ValidationConfig) -> list[Batch]:
    labels = frame[data.target] if data.target in frame.columns else None
    if labels is not None:
        labels = labels[labels.isin(data.classes)]
    return [*_suite(frame, data, labelled=True),
            class_counts_batch(labels, data.classes, data.min_class_count, rules.max_class_share)]


def scoring_suite(frame: pd.DataFrame, data: TabularData) -> list[Batch]:
    return _suite(frame, data, labelled=False)


def split_suite(splits: dict[str, pd.DataFrame], data: TabularData) -> list[Batch]:
    """Patients in two splits (when grouped; two patients may share every feature value, so no content hash
    then), and no identifier among the training table's columns."""
    grouped = GROUP in splits["train"].columns
    batches = [group_batch(splits) if grouped else hash_batch(splits, list(data.features))]
    names = pd.DataFrame({"column": list(splits["train"].columns)})
    return [*batches, Batch("identifiers", names, [
        Rule("identifiers", "ExpectColumnValuesToNotBeInSet",
             {"column": "column", "value_set": data.identifier_columns or ["<none>"]}),
        Rule("identifiers", "ExpectColumnValuesToNotMatchRegex",
             {"column": "column", "regex": data.identifier_pattern}),
    ], ["column"])]
